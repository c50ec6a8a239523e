"""Fixtures the runner's unit tests share."""

from typing import Any

import pytest

from cdc_sync.outbound import runner as runner_module
from cdc_sync.store.dead_letters import DeadLetter
from cdc_sync.store.destinations import Controls


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[DeadLetter]:
    """The dead letters the runner writes, kept in memory instead of the database."""
    written: list[DeadLetter] = []

    def add(engine: Any, letter: DeadLetter) -> int:
        written.append(letter)
        return len(written)

    monkeypatch.setattr(runner_module, "add_dead_letter", add)
    return written


@pytest.fixture(autouse=True)
def no_operator_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    """No destination paused or rolled out: the runner's state reads, without a database."""
    monkeypatch.setattr(runner_module, "read_controls", lambda engine, configs: Controls({}, {}))
