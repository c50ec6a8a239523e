"""What the dashboard and the alert rules query is what the live processes export, and the gauges
refreshed in the background (consumer lag, DLQ depth, slot lag) really get values."""

import uuid
from datetime import UTC, datetime
from functools import partial

import httpx
from sqlalchemy import Engine, text

from tests.integration.outbound_fixtures import METRICS_PORT, WRITER_METRICS_PORT, Process, Runner, wait_for
from tests.integration.test_inbound import emit
from tests.ops.metric_names import dashboard_exprs, declared_in, exposed_names, queried_names, rule_exprs

SERVE_METRICS = "http://127.0.0.1:9109/metrics"  # [server] metrics_port, not the webhook port
SLOT = "cdc_sync_crm"  # connectors/crm-postgres.json


def exposition(url: str) -> str:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return response.text


def samples(url: str, metric: str) -> list[str]:
    return [line for line in exposition(url).splitlines() if line.startswith(f"{metric}{{")]


def test_every_metric_of_the_dashboard_and_the_alerts_is_exposed(runner: Runner, inbound: Process) -> None:
    # A labelled metric has no sample before its first label set, but its `# TYPE` line is there.
    exposed = set()
    for url in (str(runner.ready_url), SERVE_METRICS):
        exposed |= exposed_names(declared_in(exposition(url)))
    queried = queried_names([*dashboard_exprs().values(), *rule_exprs().values()])
    assert queried, "no cdc_sync_ metric found in the dashboard or the alert rules"
    assert sorted(queried - exposed) == []


def test_run_measures_consumer_lag_of_its_partitions(runner: Runner) -> None:
    url = str(runner.ready_url)
    lags = wait_for("consumer lag samples", partial(samples, url, "cdc_sync_consumer_lag_messages"), 60)
    assert all('topic="crm.' in line and 'partition="' in line for line in lags), lags


def test_run_and_serve_show_dead_letter_depth_and_slot_lag(runner: Runner, inbound: Process) -> None:
    for url in (str(runner.ready_url), SERVE_METRICS):
        slot_lag = wait_for(
            f"slot lag on {url}", partial(samples, url, "cdc_sync_replication_slot_lag_bytes"), 60
        )
        assert any(f'slot="{SLOT}"' in line for line in slot_lag), slot_lag
        depth = samples(url, "cdc_sync_dead_letters_open")
        # Every configured destination is listed, at 0 when its queue is empty.
        assert any('destination="marketing"' in line for line in depth), depth
        assert samples(url, "cdc_sync_dead_letter_oldest_age_seconds"), url


def test_the_separate_writer_measures_receipt_to_commit(inbound: Process) -> None:
    opened = {
        "type": "email.opened",
        "event_id": f"open-{uuid.uuid4()}",
        "email": f"nobody-{uuid.uuid4().hex[:8]}@example.com",
        "campaign_id": "cmp-metrics",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    answer = emit("marketing", "marketing", opened)
    assert answer["status"] == 200, answer
    url = f"http://127.0.0.1:{WRITER_METRICS_PORT}/metrics"
    counted = partial(samples, url, "cdc_sync_inbound_end_to_end_latency_seconds_count")
    assert wait_for("inbound latency observed by the writer", counted, 30)
    assert samples(url, "cdc_sync_inbound_events_total")


# What `cdc-sync run` shows from its start, per configured destination or routed table, so rules
# taking increase() see the first event (names alone would pass even for a metric never written).
PRIMED = [
    'cdc_sync_deliveries_total{destination="marketing",outcome="ok"}',
    'cdc_sync_retries_total{destination="helpdesk"}',
    'cdc_sync_retried_deliveries_total{destination="marketing",outcome="failed"}',
    'cdc_sync_contract_violations_total{table="public.contacts"}',
    'cdc_sync_alerts_total{kind="escalation",severity="severe"}',  # labels sorted by name
    'cdc_sync_destination_paused{destination="marketing"}',
    'cdc_sync_events_total{table="public.contacts"}',  # CdcSyncChangesNotConsumed compares these two
    'cdc_sync_crm_rows_changed_total{table="public.contacts"}',
]


def test_run_shows_the_series_the_alert_rules_count_from_the_start(runner: Runner) -> None:
    def missing() -> list[str]:
        lines = exposition(str(runner.ready_url)).splitlines()
        return [series for series in PRIMED if not any(line.startswith(f"{series} ") for line in lines)]

    # The paused gauge is set by the state chore a second after start.
    wait_for("every primed series", lambda: not missing(), timeout_s=10)


def test_each_process_answers_probes_on_its_admin_listener(runner: Runner, inbound: Process) -> None:
    def answer(url: str) -> httpx.Response | None:
        response = httpx.get(url, timeout=5)
        return response if response.status_code == 200 else None

    for port in (METRICS_PORT, WRITER_METRICS_PORT, 9109):  # run, the writer, serve
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        ready = wait_for(f"{port}/readyz", partial(answer, f"http://127.0.0.1:{port}/readyz"), 60)
        assert ready.json() == {"status": "ready"}  # run: holding partitions; all: the database answers
    assert httpx.get("http://127.0.0.1:8000/metrics", timeout=5).status_code == 404  # not on the door


def test_run_shows_each_connector_task_state(runner: Runner) -> None:
    running = 'cdc_sync_connector_task_state{connector="crm-postgres",state="RUNNING",task="0"} 1.0'
    failed = 'cdc_sync_connector_task_state{connector="crm-postgres",state="FAILED",task="0"} 0.0'

    def shown() -> bool:
        lines = set(exposition(str(runner.ready_url)).splitlines())
        return running in lines and failed in lines

    wait_for("crm-postgres task 0 RUNNING (and not FAILED)", shown, timeout_s=30)


def test_run_counts_the_rows_the_crm_changes_and_the_events_it_consumes(runner: Runner, crm: Engine) -> None:
    """The two sides of CdcSyncChangesNotConsumed: a CRM insert moves both (others may add more)."""
    rows = partial(runner.metric, "cdc_sync_crm_rows_changed_total", table="public.contacts")
    events = partial(runner.metric, "cdc_sync_events_total", table="public.contacts")
    before = rows(), events()
    with crm.begin() as conn:
        email = f"stale-{uuid.uuid4().hex[:12]}@example.com"
        conn.execute(text("INSERT INTO contacts (email) VALUES (:e)"), {"e": email})
    wait_for("the inserted row counted from pg_stat_user_tables", lambda: rows() > before[0], timeout_s=30)
    wait_for("its change event consumed", lambda: events() > before[1], timeout_s=60)
