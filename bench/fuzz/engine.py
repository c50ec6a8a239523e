"""Runs a strategy's inputs through a check with hypothesis: a fixed seed, a fixed budget, no
shrinking and no example database, so a run is repeatable and its figures count every input."""

from collections.abc import Callable
from typing import TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

Input = TypeVar("Input")


def explore(
    strategy: st.SearchStrategy[Input], budget: int, seed: int, each: Callable[[Input], None]
) -> None:
    """Call `each` on up to `budget` inputs drawn from `strategy`; `each` records, never raises."""

    @settings(
        max_examples=budget,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    @hypothesis.seed(seed)
    @given(strategy)
    def run(case: Input) -> None:
        each(case)

    run()
