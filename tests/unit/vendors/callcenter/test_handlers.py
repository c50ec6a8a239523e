"""Call events and dial results as decisions, played against an in-memory CRM: one call record
and one timeline entry whatever the order, the three matching cases, the agent mapping queue,
the recording policy, and dial results with the do-not-call list."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from cdc_sync.model.inbound import InboundEvent
from tests.unit.inbound.fake_crm import FakeCrm

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CALLER = "+49 30 12345678"


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call_event(n: int, kind: str, offset: int, **call: Any) -> InboundEvent:
    data = {"call_id": "c-1", "segment_seq": 0, "direction": "inbound", "from_number": CALLER, **call}
    data.setdefault("agent_id", "a-7")
    return InboundEvent(
        source="callcenter",
        event_id=f"e-{n}",
        kind=kind,
        entity="call:c-1",
        occurred_at=at(offset),
        data=data,
    )


LIFECYCLE = [
    call_event(1, "call.ringing", 0, status="ringing", started_at=at(0).isoformat()),
    call_event(2, "call.answered", 4, status="answered", connected_at=at(4).isoformat()),
    call_event(3, "call.ended", 64, status="answered", ended_at=at(64).isoformat(), talk_duration_sec=60),
    call_event(4, "call.recording_ready", 70, recording_url="https://media.callcenter.example/r/1"),
    call_event(5, "call.qa_completed", 600, qa_tags=["polite"]),
]


def contact(
    contact_id: int, phone: str | None, owner: int | None = None, days_ago: int = 1
) -> dict[str, Any]:
    return {
        "id": contact_id,
        "phone": phone,
        "country": "DE",
        "owner_id": owner,
        "updated_at": T0 - timedelta(days=days_ago),
    }


def crm(*contacts: dict[str, Any], agents: dict[str, int | None] | None = None) -> FakeCrm:
    agent_rows = [
        {"ext_agent_id": ext, "user_id": user}
        for ext, user in (agents if agents is not None else {"a-7": 5}).items()
    ]
    opportunities = [{"id": 40, "contact_id": 1, "stage": "proposal", "updated_at": T0}]
    return FakeCrm({"contacts": list(contacts), "call_agents": agent_rows, "opportunities": opportunities})


def play(fake: FakeCrm, events: list[InboundEvent]) -> None:
    for event in events:
        assert fake.play(event, "callcenter").status == "done", event.kind


def test_shuffled_and_duplicated_events_make_one_call_and_one_timeline_entry() -> None:
    for seed in range(20):
        events = LIFECYCLE + random.Random(seed).sample(LIFECYCLE, 3)
        random.Random(seed).shuffle(events)
        fake = crm(contact(1, "030 12345678"))
        play(fake, events)

        [call] = fake.tables["calls"]
        assert (call["ext_call_id"], call["status"], call["contact_id"], call["opportunity_id"]) == (
            "c-1",
            "ANSWERED",
            1,
            40,
        )
        assert (call["talk_duration_sec"], call["ring_duration_sec"], call["qa_tags"]) == (60, 4, ["polite"])
        assert (call["agent_id"], call["caller_phone_e164"], call["has_recording"]) == (
            5,
            "+493012345678",
            True,
        )
        assert call["recording_signed_url"] == "https://media.callcenter.example/r/1"
        assert [(a.kind, a.contact_id) for a in fake.timeline] == [("call", 1)]


def test_several_contacts_with_the_number_pick_the_agents_and_flag_it_for_review() -> None:
    fake = crm(
        contact(1, "+493012345678", owner=9, days_ago=0), contact(2, "030/1234-5678", owner=5, days_ago=3)
    )
    plan = fake.play(LIFECYCLE[0], "callcenter")

    [call] = fake.tables["calls"]
    assert (call["contact_id"], call["ambiguous_match"]) == (2, True)
    assert [(t.kind, t.role) for t in plan.tasks] == [("manual_review", "sales")]


def test_an_unknown_number_becomes_a_lead_linked_to_the_call() -> None:
    fake = crm(contact(1, "+4940555000"))
    fake.play(LIFECYCLE[0], "callcenter")

    lead = fake.tables["contacts"][-1]
    assert (lead["phone"], lead["lifecycle_stage"]) == (CALLER, "lead")
    assert fake.tables["calls"][0]["contact_id"] == lead["id"]


def test_an_unmapped_agent_joins_the_queue_and_the_call_gets_the_user_once_mapped() -> None:
    fake = crm(contact(1, "030 12345678"), agents={})
    play(fake, LIFECYCLE[:2])
    assert fake.tables["call_agents"] == [{"ext_agent_id": "a-7", "user_id": None, "updated_at": at(0)}]
    assert fake.tables["calls"][0]["agent_id"] is None

    fake.tables["call_agents"][0]["user_id"] = 5  # `cdc-sync agents map a-7 5`
    play(fake, LIFECYCLE[2:3])
    assert fake.tables["calls"][0]["agent_id"] == 5


def test_a_recording_link_off_the_allow_list_is_not_stored_and_asks_for_review() -> None:
    fake = crm(contact(1, "030 12345678"))
    play(fake, LIFECYCLE[:1])
    evil = call_event(
        9, "call.recording_ready", 70, recording_url="https://media.callcenter.example@169.254.169.254/"
    )
    plan = fake.play(evil, "callcenter")

    call = fake.tables["calls"][0]
    assert (call["has_recording"], call.get("recording_signed_url")) == (True, None)
    assert [t.kind for t in plan.tasks] == ["manual_review"]


def dial(code: str, attempts: int, n: int = 1) -> InboundEvent:
    data = {
        "batch_id": "b-1",
        "task_id": "t-1",
        "result_code": code,
        "attempt_count": attempts,
        "call_id": "c-9",
    }
    return InboundEvent(
        source="callcenter",
        event_id=f"d-{n}",
        kind="dial.result",
        entity="dial_task:t-1",
        occurred_at=at(n),
        data=data,
    )


def dial_crm(*calls: dict[str, Any]) -> FakeCrm:
    task = {
        "id": 3,
        "task_id": "t-1",
        "target_phone_e164": "+493012345678",
        "contact_id": 1,
        "opportunity_id": 40,
        "status": "pending",
        "result_code": None,
        "attempt_count": 0,
        "updated_at": T0,
        "sync_origin": None,
    }
    return FakeCrm({"dial_tasks": [task], "calls": list(calls)})


def test_a_refusal_puts_the_number_on_the_do_not_call_list_and_freezes_the_opportunity() -> None:
    fake = dial_crm()
    plan = fake.play(dial("REJECTED", 1), "callcenter")

    assert fake.tables["dial_tasks"][0]["result_code"] == "REJECTED"
    assert fake.tables["do_not_call"][0]["phone_e164"] == "+493012345678"
    assert [(t.kind, t.related) for t in plan.tasks] == [("manual_review", "opportunity:40")]


def test_repeated_no_answers_ask_for_a_follow_up_and_an_older_result_is_stale() -> None:
    fake = dial_crm()
    assert fake.play(dial("NO_ANSWER", 2, n=2), "callcenter").tasks == []
    plan = fake.play(dial("NO_ANSWER", 3, n=3), "callcenter")
    assert [t.kind for t in plan.tasks] == ["reminder"]
    assert fake.play(dial("CONNECTED", 1, n=1), "callcenter").status == "stale"
    assert fake.tables["dial_tasks"][0]["attempt_count"] == 3


def test_a_connected_call_showing_interest_asks_to_advance_the_opportunity() -> None:
    interested = dial_crm({"id": 8, "ext_call_id": "c-9", "result_code": "interested"})
    plan = interested.play(dial("CONNECTED", 1), "callcenter")
    hints = [(t.kind, t.related, "advance" in t.title) for t in plan.tasks]
    assert hints == [("reminder", "opportunity:40", True)]
    assert "opportunities" not in {update.table for update in plan.updates}  # the stage is the CRM's
    not_interested = dial_crm({"id": 8, "ext_call_id": "c-9", "result_code": "NOT_INTERESTED"})
    assert not_interested.play(dial("CONNECTED", 1), "callcenter").tasks == []
    assert dial_crm().play(dial("CONNECTED", 1), "callcenter").tasks == []  # the call is not in yet


def test_the_dialled_call_gets_the_tasks_opportunity_once() -> None:
    fake = dial_crm({"id": 8, "ext_call_id": "c-9", "opportunity_id": None, "updated_at": T0})
    fake.play(dial("CONNECTED", 1), "callcenter")
    assert fake.tables["calls"][0]["opportunity_id"] == 40
    linked = dial_crm({"id": 8, "ext_call_id": "c-9", "opportunity_id": 41, "updated_at": T0})
    plan = linked.play(dial("CONNECTED", 1), "callcenter")
    assert (linked.tables["calls"][0]["opportunity_id"], [u.table for u in plan.updates]) == (
        41,
        ["dial_tasks"],
    )


def test_a_result_for_an_unknown_task_is_unmatched() -> None:
    plan = FakeCrm().play(dial("CONNECTED", 1), "callcenter")
    assert plan.status == "unmatched"


def test_a_ringing_incoming_call_pops_once_with_the_contact_and_open_opportunity() -> None:
    fake = crm({**contact(1, "030 12345678"), "first_name": "Ada", "last_name": "Lovelace"})
    plans = [fake.play(event, "callcenter") for event in LIFECYCLE]

    [first, *later] = [plan.notices for plan in plans]
    [notice] = first
    assert (notice.channel, notice.payload["call"], notice.payload["status"]) == ("calls", "c-1", "RINGING")
    assert notice.payload["contact"] == {"id": 1, "name": "Ada Lovelace", "new_lead": False}
    assert (notice.payload["opportunity_id"], notice.payload["agent"]) == (40, "a-7")
    assert later == [[]] * 4  # the rest of the call updates its record, it does not pop again


def test_a_call_first_heard_of_when_over_or_going_out_pops_nothing() -> None:
    ended = call_event(3, "call.ended", 64, status="missed", ended_at=at(64).isoformat())
    outgoing = call_event(
        1, "call.ringing", 0, direction="outbound", to_number=CALLER, from_number="+4930999"
    )
    assert crm(contact(1, "030 12345678")).play(ended, "callcenter").notices == []
    assert crm(contact(1, "030 12345678")).play(outgoing, "callcenter").notices == []
