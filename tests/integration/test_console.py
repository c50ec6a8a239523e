"""The operator console in a real browser (Debian's Chromium driven by playwright) against the
real stack: `serve` answers /console. Screenshots of each page go to tests/artifacts/console/."""

import subprocess
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomli_w
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine

from tests.integration.outbound_fixtures import CLI, ROOT, Process, Runner, sandbox, wait_for
from tests.integration.test_inbound import applied, click_event, emit, one, zendesk_event
from tests.integration.test_operator import cli_json, open_letters
from tests.integration.test_outbound import add_contacts, member

CONSOLE = "http://127.0.0.1:8000/console"
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "tests" / "artifacts" / "console"
PASSWORDS = {
    "ops-operator": "operator password 1",
    "ops-viewer": "viewer password 12",
    "ops-admin": "admin password 123",
}


def tag() -> str:
    return uuid.uuid4().hex[:8]


def add_operator(runner: Runner, name: str, role: str) -> None:
    done = subprocess.run(
        [CLI, "--config", str(runner.config), "operators", "add", name, "--role", role, "--password-stdin"],
        input=PASSWORDS[name] + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def operators(runner: Runner, inbound: Process) -> None:
    add_operator(runner, "ops-operator", "operator")
    add_operator(runner, "ops-viewer", "viewer")
    add_operator(runner, "ops-admin", "admin")


@pytest.fixture(scope="module")
def browser(operators: None) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (ops/stack.sh install)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def logged_in(browser: Browser, name: str, width: int = 1280) -> Page:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of resume and retry-all
    page.goto(f"{CONSOLE}/")
    expect(page).to_have_url(f"{CONSOLE}/login?next=/console/")  # logged out: the login page
    page.get_by_label("Operator").fill(name)
    page.get_by_label("Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Destinations")).to_be_visible()
    return page


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def destination_state(runner: Runner, name: str) -> str:
    return str(next(d for d in cli_json(runner, "destinations", "list") if d["name"] == name)["state"])


def session_client(name: str) -> tuple[httpx.Client, str]:
    """A logged-in HTTP client (no browser) and the session's CSRF token."""
    client = httpx.Client(base_url=CONSOLE, timeout=30)
    client.post("/login", data={"name": name, "password": PASSWORDS[name]})
    page = client.get("/").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client, csrf


def test_logged_out_access_goes_to_the_login_and_a_form_without_its_csrf_token_is_refused(
    runner: Runner, operators: None
) -> None:
    anonymous = httpx.get(f"{CONSOLE}/dead-letters", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/console/login")
    assert httpx.post(f"{CONSOLE}/destinations/marketing/pause").status_code == 403  # no session
    wrong = httpx.post(f"{CONSOLE}/login", data={"name": "ops-operator", "password": "guess"})
    assert wrong.status_code == 401
    client, _ = session_client("ops-operator")
    cookie = client.cookies.jar
    (set_cookie,) = [c for c in cookie if c.name == "cdc_sync_console"]
    assert set_cookie.has_nonstandard_attr("HttpOnly") and set_cookie.path == "/console"
    refused = client.post("/destinations/marketing/pause", data={"reason": "no token"})
    forged = client.post("/destinations/marketing/pause", data={"reason": "forged", "csrf": "x" * 43})
    assert (refused.status_code, forged.status_code) == (403, 403) and "CSRF" in refused.text
    assert destination_state(runner, "marketing") == "active"


def test_an_operator_sees_a_paused_destination_in_a_banner_and_resumes_it(
    browser: Browser, runner: Runner
) -> None:
    paused = runner.cli("destinations", "pause", "marketing", "--reason", "console test")
    assert paused.returncode == 0, paused.stderr
    page = logged_in(browser, "ops-operator")
    banner = page.get_by_role("alert").filter(has_text="marketing is paused")
    expect(banner).to_contain_text("console test")
    shot(page, "overview-paused")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_role("status")).to_contain_text("marketing resumed after replaying")
    expect(page.get_by_role("alert").filter(has_text="marketing is paused")).to_have_count(0)
    assert destination_state(runner, "marketing") == "active"
    (audited,) = cli_json(runner, "audit", "--action", "destination.resume", "--limit", "1")
    assert audited["actor"] == "ops-operator"
    shot(page, "overview")


@pytest.fixture(scope="module")
def refused_letter(runner: Runner, crm: Engine) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """A contact the marketing platform refused (400): its open dead letter."""
    email = f"console-{tag()}@example.com"
    sandbox("marketing", "PUT", "/_sandbox/faults", json={"reject_status": 400})
    try:
        (cid,) = add_contacts(crm, [email], first_name="Console")
        entity = f"contact:{cid}"
        (letter,) = wait_for("the refused delivery", lambda: open_letters(runner, entity, "marketing"))
    finally:
        sandbox("marketing", "PUT", "/_sandbox/faults", json={})
    yield email, entity, letter


def test_a_viewer_cannot_retry_a_dead_letter(
    browser: Browser, refused_letter: tuple[str, str, Any], runner: Runner
) -> None:
    _, entity, letter = refused_letter
    page = logged_in(browser, "ops-viewer")
    page.goto(f"{CONSOLE}/dead-letters?object={entity}")
    expect(page.get_by_role("link", name=str(letter["id"]))).to_be_visible()
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # not offered
    shot(page, "dead-letters-viewer")
    client, csrf = session_client("ops-viewer")
    pressed = client.post("/dead-letters/retry", data={"letter": str(letter["id"]), "csrf": csrf})
    assert pressed.status_code == 403 and "needs operator" in pressed.text
    assert [open_["id"] for open_ in open_letters(runner, entity, "marketing")] == [letter["id"]]  # no effect


def test_a_dead_letter_found_by_its_object_is_retried_and_delivered(
    browser: Browser, refused_letter: tuple[str, str, Any], runner: Runner
) -> None:
    email, entity, letter = refused_letter
    page = logged_in(browser, "ops-operator")
    page.get_by_role("link", name="Dead letters").click()
    page.get_by_label("Object").fill(entity)
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text=entity)
    expect(row).to_contain_text("400")
    shot(page, "dead-letters")
    page.get_by_role("link", name=str(letter["id"])).click()
    expect(page.get_by_role("heading", name=f"Dead letter {letter['id']}")).to_be_visible()
    expect(page.locator("pre").first).not_to_contain_text(email)  # masked: the operator is no admin
    shot(page, "dead-letter")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("replayed 1")
    assert (member(email) or {}).get("email_address") == email
    assert cli_json(runner, "dlq", "show", str(letter["id"]))["status"] == "replayed"
    trail = cli_json(runner, "audit", "--object", entity, "--action", "dlq.replay")
    assert [(t["actor"], t["details"]["outcome"]) for t in trail] == [("ops-operator", "replayed")]


def test_a_conflict_is_shown_side_by_side_and_resolved(browser: Browser, crm: Engine, state: Engine) -> None:
    ticket = f"CONSOLE-{tag()}"
    one(
        crm,
        "INSERT INTO tickets (external_id, subject, status) VALUES (:t, 'X', 'Pending') RETURNING id",
        t=ticket,
    )
    event = zendesk_event(ticket, "status_changed", datetime.now(UTC) - timedelta(minutes=1), status="SOLVED")
    emit("helpdesk", "helpdesk", event)
    assert applied(state, "helpdesk", event["id"])[0] == "conflict"
    page = logged_in(browser, "ops-operator")
    page.get_by_role("link", name="Conflicts").click()
    row = page.get_by_role("row").filter(has_text="Resolved").filter(has_text="Pending").last
    expect(row).to_contain_text("status")
    shot(page, "conflicts")
    row.get_by_role("button", name="Keep vendor").click()
    expect(page.get_by_role("status")).to_contain_text("kept vendor value 'Resolved'")
    assert one(crm, "SELECT status FROM tickets WHERE external_id = :t", t=ticket)[0] == "Resolved"


def test_an_objects_timeline_shows_what_happened_to_it_newest_first(
    browser: Browser, refused_letter: tuple[str, str, Any]
) -> None:
    email, entity, _ = refused_letter
    page = logged_in(browser, "ops-operator")
    page.get_by_role("link", name="Timeline").click()
    page.get_by_label("Object or e-mail").fill(email)  # an e-mail finds its contact
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name=entity)).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows.first).to_be_visible()
    actions = [row.locator("td").nth(1).inner_text() for row in rows.all()]
    assert "dlq.replay" in actions and any(a.startswith("push.") for a in actions), actions
    shot(page, "timeline")


def test_an_admin_sees_personal_data_only_when_asking_and_that_is_audited(
    browser: Browser, refused_letter: tuple[str, str, Any], runner: Runner
) -> None:
    email, entity, letter = refused_letter
    page = logged_in(browser, "ops-admin")
    page.goto(f"{CONSOLE}/dead-letters/{letter['id']}")
    expect(page.locator("pre").first).not_to_contain_text(email)
    page.get_by_role("link", name="Show personal data (audited)").click()
    expect(page.locator("pre").first).to_contain_text(email)
    trail = cli_json(runner, "audit", "--object", entity, "--action", "console.show_pii")
    assert [t["actor"] for t in trail][:1] == ["ops-admin"]
    operator_client, _ = session_client("ops-operator")
    assert operator_client.get(f"/dead-letters/{letter['id']}?pii=1").status_code == 403


def test_an_unmatched_inbox_event_is_replayed_from_the_inbox_page(
    browser: Browser, crm: Engine, state: Engine
) -> None:
    email = f"late-{tag()}@example.com"
    click = click_event(email)
    emit("marketing", "marketing", click)
    assert applied(state, "marketing", click["event_id"])[0] == "unmatched"
    add_contacts(crm, [email])
    page = logged_in(browser, "ops-operator")
    page.get_by_role("link", name="Inbox").click()
    row = page.get_by_role("row").filter(has_text=click["event_id"])
    expect(row).to_contain_text("no CRM contact with email")
    row.get_by_role("checkbox").check()
    shot(page, "inbox")
    page.get_by_role("button", name="Replay selected").click()
    expect(page.get_by_role("status")).to_contain_text("1 events back to the writer")
    assert applied(state, "marketing", click["event_id"])[0] == "done"


def test_a_destination_page_plots_its_last_minutes_and_fits_a_phone(browser: Browser) -> None:
    page = logged_in(browser, "ops-viewer", width=390)
    page.get_by_role("link", name="marketing").click()
    expect(page.get_by_role("heading", name="Destination marketing")).to_be_visible()
    expect(page.locator("figure svg").first).to_be_visible()  # the report's plots, inline
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)  # a viewer only reads
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the page is {width}px wide on a 390px screen"
    shot(page, "destination-phone")


def test_offsets_are_shown_to_all_and_rewound_only_by_an_admin_with_the_impact_first(
    browser: Browser, runner: Runner
) -> None:
    operator_client, csrf = session_client("ops-operator")
    form = {"csrf": csrf, "topic": "crm.public.contacts", "to": "earliest"}
    assert operator_client.post("/offsets/rewind", data=form).status_code == 403
    before = cli_json(runner, "offsets", "show")
    page = logged_in(browser, "ops-admin")
    page.get_by_role("link", name="Offsets").click()
    expect(page.get_by_role("cell", name="crm.public.contacts").first).to_be_visible()
    page.get_by_label("Topic").select_option("crm.public.contacts")
    page.get_by_role("button", name="Preview the impact").click()
    expect(page.get_by_role("heading", name="the impact")).to_be_visible()
    expect(page.get_by_text("re-read")).not_to_have_count(0)
    shot(page, "rewind-preview")
    page.get_by_role("button", name="Rewind").click()  # `run` is consuming: refused, nothing moves
    expect(page.get_by_role("alert")).to_contain_text("active member")
    after = cli_json(runner, "offsets", "show")
    committed = {(r["topic"], r["partition"]): r["committed"] for r in before["partitions"]}
    assert all(
        (r["committed"] or 0) >= (committed.get((r["topic"], r["partition"])) or 0)
        for r in after["partitions"]
    )


def test_an_admin_adds_an_operator_who_can_then_log_in(browser: Browser) -> None:
    name = f"new-{tag()}"
    PASSWORDS[name] = "a new password 42"
    page = logged_in(browser, "ops-admin")
    page.get_by_role("link", name="Operators").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Role").select_option("viewer")
    page.get_by_label("Password (at least 12 characters)").fill(PASSWORDS[name])
    page.get_by_role("button", name="Save operator").click()
    expect(page.get_by_role("status")).to_contain_text(f"operator {name} (viewer) added")
    expect(logged_in(browser, name).get_by_text(f"{name} (viewer)")).to_be_visible()
    operator_client, csrf = session_client("ops-operator")
    form = {"csrf": csrf, "name": "intruder", "role": "admin", "password": "x" * 20}
    assert operator_client.post("/operators", data=form).status_code == 403


@pytest.fixture
def proxied_console(runner: Runner, tmp_path: Path) -> Iterator[str]:
    """`cdc-sync console` configured to trust an OIDC proxy's headers, on its own port."""
    config = tomllib.loads(runner.config.read_text())
    config["console"] = {
        "proxy_user_header": "X-Forwarded-Email",
        "proxy_roles": {"cdc-operators": "operator", "cdc-viewers": "viewer"},
    }
    path = tmp_path / "proxied.toml"
    path.write_text(tomli_w.dumps(config))
    base = "http://127.0.0.1:8011/console"
    console = Process(
        ["--config", str(path), "console", "--port", "8011"], tmp_path / "console.log", f"{base}/login"
    )
    console.start()
    try:
        yield base
    finally:
        console.stop()


def test_behind_an_oidc_proxy_its_user_and_groups_decide(proxied_console: str) -> None:
    def as_user(email: str | None, groups: str) -> httpx.Client:
        headers = {"X-Forwarded-Groups": groups, **({"X-Forwarded-Email": email} if email else {})}
        return httpx.Client(base_url=proxied_console, headers=headers, follow_redirects=True, timeout=30)

    assert as_user(None, "cdc-operators").get("/").status_code == 401
    assert as_user("eve@example.com", "finance").get("/").status_code == 403
    viewer = as_user("vic@example.com", "finance,cdc-viewers")
    page = viewer.get("/")
    assert page.status_code == 200 and "vic@example.com (viewer)" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    refused = viewer.post("/dead-letters/retry", data={"letter": "1", "csrf": csrf})
    assert refused.status_code == 403 and "needs operator" in refused.text
    # The same cookie with another user in the header is not that user's session.
    viewer.headers["X-Forwarded-Email"] = "olga@example.com"
    viewer.headers["X-Forwarded-Groups"] = "cdc-operators"
    assert viewer.post("/dead-letters/retry", data={"letter": "1", "csrf": csrf}).status_code == 403
    assert "olga@example.com (operator)" in viewer.get("/").text
