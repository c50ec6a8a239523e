"""Fixtures the runner's unit tests share."""

from typing import Any

import pytest

from cdc_sync.outbound import runner as runner_module
from cdc_sync.store.dead_letters import DeadLetter


@pytest.fixture
def letters(monkeypatch: pytest.MonkeyPatch) -> list[DeadLetter]:
    """The dead letters the runner writes, kept in memory instead of the database."""
    written: list[DeadLetter] = []

    def add(engine: Any, letter: DeadLetter) -> int:
        written.append(letter)
        return len(written)

    monkeypatch.setattr(runner_module, "add_dead_letter", add)
    return written
