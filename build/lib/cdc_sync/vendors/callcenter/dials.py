"""What a dial result does to the CRM: the result onto its dial task (its `status` stays the
CRM's: `pending` until dialled, `blocked` for a do-not-call number), the number onto the
do-not-call list when the callee refused (never dialled again), the task's opportunity onto the
dialled call's record, and the follow-ups the sales
team asked for: a connected call whose disposition shows interest asks to advance the
opportunity (its stage stays the CRM's), repeated no-answers get a follow-up task, a refusal
freezes the opportunity."""

from dataclasses import dataclass
from typing import Any

from cdc_sync.inbound.writes import Applied, WriteScope, add_task, create, guarded_update, outcome
from cdc_sync.model.writes import Row

BLOCKING = frozenset({"REJECTED", "BLACKLISTED"})
FOLLOW_UP_AFTER = 3  # no-answers in a row before a person calls instead
# The call's disposition codes that show interest (the call center's `disposition_code`).
POSITIVE = frozenset({"INTERESTED", "APPOINTMENT", "CALLBACK", "SALE"})


@dataclass(frozen=True)
class Hint:
    kind: str
    role: str
    title: str


def stage_hint(
    result_code: str, attempt_count: int, task_id: str, disposition: str | None = None
) -> Hint | None:
    """The follow-up a result asks for, if any (the opportunity's stage stays the CRM's call)."""
    if result_code == "CONNECTED" and (disposition or "").upper() in POSITIVE:
        return Hint(
            "reminder", "sales", f"Dial task {task_id}: connected, {disposition}: advance the opportunity"
        )
    if result_code in BLOCKING:
        return Hint("manual_review", "sales", f"Dial task {task_id}: {result_code}, freeze the opportunity")
    if result_code == "NO_ANSWER" and attempt_count >= FOLLOW_UP_AFTER:
        return Hint("reminder", "sales", f"Dial task {task_id}: no answer {attempt_count} times, follow up")
    return None


def task_changes(data: dict[str, Any]) -> dict[str, Any]:
    code = str(data["result_code"])
    return {
        "result_code": code,
        "attempt_count": int(data.get("attempt_count") or 0),
        "last_attempt_at": data.get("last_attempt_at"),
        "ext_call_id": data.get("call_id"),
    }


def dial_result(scope: WriteScope) -> Applied:
    data = scope.event.data
    task = scope.reads.row("dial_tasks", "task_id", str(data["task_id"]))
    if task is None:
        related = f"dial_task:{data['task_id']}"
        add_task(scope, "manual_review", "sales", f"Dial result for unknown task {data['task_id']}", related)
        return Applied("unmatched", f"no CRM dial task {data['task_id']}")
    changes = task_changes(data)
    guarded = guarded_update(scope, "dial_tasks", task, changes)
    detail = f"dial task {task['task_id']}: {changes['result_code']}"
    if guarded.all_stale or guarded.conflicted:
        return outcome(guarded, detail)
    if changes["result_code"] in BLOCKING:
        _do_not_call(scope, str(task["target_phone_e164"]), changes["result_code"])
    call = scope.reads.row("calls", "ext_call_id", str(data["call_id"])) if data.get("call_id") else None
    if call is not None and call.get("opportunity_id") is None and task.get("opportunity_id"):
        # The dialled call belongs to the task's opportunity (a call matched by number alone links
        # no opportunity when its contact has none open, or picks another one).
        guarded_update(scope, "calls", call, {"opportunity_id": task["opportunity_id"]}, check_stale=False)
    _follow_up(scope, task, changes, None if call is None else call.get("result_code"))
    return outcome(guarded, detail)


def _follow_up(scope: WriteScope, task: Row, changes: dict[str, Any], disposition: str | None) -> None:
    hint = stage_hint(changes["result_code"], changes["attempt_count"], str(task["task_id"]), disposition)
    if hint is None:
        return
    opportunity = task.get("opportunity_id")
    related = f"opportunity:{opportunity}" if opportunity else f"dial_task:{task['task_id']}"
    add_task(scope, hint.kind, hint.role, hint.title, related, task.get("contact_id"))


def _do_not_call(scope: WriteScope, phone: str, reason: str) -> None:
    if scope.reads.row("do_not_call", "phone_e164", phone) is None:
        create(scope, "do_not_call", {"phone_e164": phone, "reason": reason})
