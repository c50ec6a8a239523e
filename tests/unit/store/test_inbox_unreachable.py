"""An inbox whose database does not answer fails fast as StackUnavailable (a 503 at the webhook)."""

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import event

from cdc_sync.errors import StackUnavailable
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.outbound.assembly import CONNECT_TIMEOUT_S, state_engine
from cdc_sync.sealing import new_key_text
from cdc_sync.settings import Settings
from cdc_sync.store import inbox


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes the TCP handshake (the kernel's backlog) and then never says a word,
    like a database host whose server hangs: only a connect timeout ends the wait."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_database_that_never_answers_is_unavailable_within_the_connect_timeout(silent_port: int) -> None:
    dsn = f"postgresql+psycopg://cdc_writer:x@127.0.0.1:{silent_port}/crm"
    engine = state_engine(Settings(crm_dsn=SecretStr(dsn), data_key=SecretStr(new_key_text())))
    click = InboundEvent(
        source="marketing",
        event_id="e-1",
        kind="email.clicked",
        entity="email:a@example.com",
        occurred_at=datetime(2026, 11, 23, tzinfo=UTC),
        data={},
    )
    asked: list[dict[str, object]] = []
    event.listen(engine, "do_connect", lambda _d, _r, _a, params: asked.append(dict(params)))
    with pytest.raises(StackUnavailable, match="inbox unavailable"):  # without a timeout: a hang
        inbox.put_many(engine, [click])
    assert asked and all(params["connect_timeout"] == CONNECT_TIMEOUT_S for params in asked)
    engine.dispose()
