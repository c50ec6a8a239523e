"""What the call-center sandbox keeps: its agents (paged by an opaque cursor), the dial tasks it
took (once per batch_id + task_id), the calls it knows in detail and the recording links it signs."""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cdc_sync.vendors.callcenter.options import DEFAULT_MEDIA_HOSTS as MEDIA_HOST
from cdc_sync.vendors.callcenter.webhooks import ResultCode

MAX_TASKS = 500
MAX_PAGE = 100
LINK_TTL = timedelta(hours=1)  # the vendor's links live at most 24 h; the sandbox's one
E164 = r"^\+[1-9][0-9]{6,14}$"


class NotFound(Exception):
    """No such call (or no recording of it)."""


class BadCursor(Exception):
    """A cursor the sandbox did not hand out."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DialTask(Strict):
    task_id: str = Field(min_length=1, max_length=128)
    phone: str = Field(pattern=E164)
    contact_ref: str | None = None
    campaign_id: str | None = None


class DialBatch(Strict):
    batch_id: str = Field(min_length=1, max_length=128)
    tasks: list[DialTask] = Field(min_length=1, max_length=MAX_TASKS)


class Agent(Strict):
    agent_id: str = Field(min_length=1)
    name: str = ""
    email: str | None = None
    status: str = "available"


class DialResultsOrder(Strict):
    """`POST /_sandbox/dial-results`: dial every queued task not dialled yet and report each result
    to `target` as a signed `dial.result` webhook (`results` overrides the code per task id)."""

    target: str
    result_code: ResultCode = "CONNECTED"
    results: dict[str, ResultCode] = Field(default_factory=dict)


class AgentSeeds(Strict):
    agents: list[Agent]


class CallSeeds(Strict):
    calls: list[dict[str, Any]]  # call detail as the vendor shows it; `call_id` required


def cursor_of(offset: int) -> str:
    return base64.urlsafe_b64encode(f"agents:{offset}".encode()).decode()


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "agents" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadCursor(f"unknown cursor {cursor!r}")


@dataclass
class CallCenter:
    link_secret: bytes
    agents: list[Agent] = field(default_factory=list)
    tasks: dict[tuple[str, str], DialTask] = field(default_factory=dict)
    calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    dialled: set[tuple[str, str]] = field(default_factory=set)

    def clear(self) -> None:
        self.agents.clear()
        self.tasks.clear()
        self.calls.clear()
        self.dialled.clear()

    def undialled(self) -> list[tuple[str, DialTask]]:
        return [
            (batch, task)
            for (batch, task_id), task in self.tasks.items()
            if (batch, task_id) not in self.dialled
        ]

    def dial_result(self, batch: str, task: DialTask, code: str, now: datetime) -> dict[str, Any]:
        """The `dial.result` webhook of one task's first attempt."""
        at = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        result = {"batch_id": batch, "task_id": task.task_id, "result_code": code, "attempt_count": 1}
        return {
            "event_id": f"dial-{batch}-{task.task_id}-1",
            "type": "dial.result",
            "occurred_at": at,
            "call": {**result, "last_attempt_at": at},
        }

    def agent_page(self, cursor: str | None, limit: int) -> tuple[list[Agent], str | None]:
        start = offset_of(cursor)
        end = start + min(max(limit, 1), MAX_PAGE)
        return self.agents[start:end], cursor_of(end) if end < len(self.agents) else None

    def take(self, batch: DialBatch, task: DialTask) -> bool:
        """Queue one task; False when this batch already holds it (a retried batch dials nobody twice)."""
        key = (batch.batch_id, task.task_id)
        if key in self.tasks:
            return False
        self.tasks[key] = task
        return True

    def call(self, call_id: str) -> dict[str, Any]:
        if call_id not in self.calls:
            raise NotFound(f"no call {call_id}")
        return self.calls[call_id]

    def recording_link(self, call_id: str, now: datetime) -> dict[str, str]:
        """A short-lived signed HTTPS link on the media host, with the audio's SHA-256."""
        if not self.call(call_id).get("recording_ready"):
            raise NotFound(f"call {call_id} has no recording")
        expires = (now.astimezone(UTC) + LINK_TTL).replace(microsecond=0)
        stamp = str(int(expires.timestamp()))
        signature = hmac.new(self.link_secret, f"{call_id}:{stamp}".encode(), hashlib.sha256).hexdigest()
        return {
            "url": f"https://{MEDIA_HOST}/recordings/{call_id}.mp3?expires={stamp}&signature={signature}",
            "expires_at": expires.isoformat().replace("+00:00", "Z"),
            "sha256": hashlib.sha256(f"audio of {call_id}".encode()).hexdigest(),
        }
