"""The report page: self-contained, readable, and really drawn (screenshot in headless Chromium)."""

import math
import random
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from cdc_sync.report.html import render_html
from cdc_sync.report.latency import Report, build_report
from cdc_sync.store.report_queries import (
    DeadLetterCount,
    LatencyRow,
    LedgerRows,
    LedgerWindow,
    OutcomeCount,
    PauseEvent,
)

ARTIFACTS = Path(__file__).parents[2] / "artifacts"
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
BUCKET = timedelta(minutes=5)
SIZE = (1280, 2000)
XMLNS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def synthetic_rows(buckets: int = 72) -> LedgerRows:
    """Six hours of two destinations: a latency wave, some failures, one pause each."""
    rng = random.Random(7)
    latency, outcomes, letters = [], [], []
    for i in range(buckets):
        bucket = START + BUCKET * i
        for name, base in (("marketing", 40.0), ("helpdesk", 120.0)):
            if name == "helpdesk" and 24 <= i < 32:
                continue  # paused: nothing sent
            wave = base * (1.5 + math.sin(i / 9))
            latency.append(
                LatencyRow(bucket, name, (wave, wave * 4, wave * 9), (wave * 30, wave * 90, wave * 200))
            )
            outcomes.append(OutcomeCount(bucket, name, "ok", 200, rng.randint(80, 120)))
            outcomes.append(OutcomeCount(bucket, name, "retry", None, rng.randint(0, 6)))
            outcomes.append(OutcomeCount(bucket, name, "retry_after", 429, rng.randint(0, 4)))
            outcomes.append(OutcomeCount(bucket, name, "retry", 503, rng.randint(0, 3)))
            letters.append(DeadLetterCount(bucket, name, rng.randint(0, 2)))
    latency += [
        LatencyRow(None, "marketing", (60.0, 240.0, 540.0), (1800.0, 5400.0, 12000.0)),
        LatencyRow(None, "helpdesk", (180.0, 720.0, 1620.0), (5400.0, 16000.0, 36000.0)),
    ]
    pauses = [
        PauseEvent(START + timedelta(hours=2), "helpdesk", "pause", "escalation"),
        PauseEvent(START + timedelta(hours=2, minutes=40), "helpdesk", "resume", "operator"),
        PauseEvent(START + timedelta(hours=5, minutes=30), "marketing", "pause", "operator"),
    ]
    return LedgerRows(latency, outcomes, letters, {"marketing": 3, "helpdesk": 5}, pauses)


def synthetic_report(rows: LedgerRows | None = None) -> Report:
    window = LedgerWindow(START, START + timedelta(hours=6), BUCKET)
    return build_report(rows or synthetic_rows(), window, BUCKET, START + timedelta(hours=6, minutes=1))


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(synthetic_report())


def test_the_page_fetches_nothing(page: str) -> None:
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= XMLNS
    assert not re.search(r"<(script|link|img|iframe)\b|@import|url\((?!#)", page, re.IGNORECASE)
    assert page.count("<svg") == 3


def test_the_page_names_the_window_destinations_and_pauses(page: str) -> None:
    assert "2026-11-23 06:00:00 UTC → 2026-11-23 12:00:00 UTC" in page
    assert "generated 2026-11-23 12:01:00 UTC" in page
    assert "<td>helpdesk</td><td>2026-11-23 08:00:00 UTC</td><td>2026-11-23 08:40:00 UTC</td>" in page
    assert "<td>marketing</td><td>2026-11-23 11:30:00 UTC</td><td>still paused</td>" in page


def test_destination_names_are_escaped() -> None:
    rows = LedgerRows([], [OutcomeCount(START, "<b>crm</b>", "ok", 200, 1)], [], {}, [])
    html = render_html(synthetic_report(rows))
    assert "&lt;b&gt;crm&lt;/b&gt;" in html and "<b>crm</b>" not in html


def test_an_empty_window_renders_a_clear_page() -> None:
    html = render_html(synthetic_report(LedgerRows([], [], [], {"marketing": 2}, [])))
    assert "No deliveries between 2026-11-23 06:00:00 UTC and 2026-11-23 12:00:00 UTC." in html
    assert "2 dead letters are open now." in html
    assert "<svg" not in html


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("Chromium is needed to screenshot the report: `ops/stack.sh install` installs it")
    return found


def screenshot(html: Path, png: Path, profile: Path) -> None:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={SIZE[0]},{SIZE[1]}",
        f"--screenshot={png}",
        html.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0 and png.exists(), done.stderr[-2000:]


def colour_share(pixels: np.ndarray, hex_colour: str, tolerance: float = 0.06) -> float:
    target = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return float((np.abs(pixels[..., :3] - target).max(axis=-1) < tolerance).mean())


def test_the_rendered_page_shows_the_plots(page: str, tmp_path: Path) -> None:
    html, png = tmp_path / "report.html", tmp_path / "report.png"
    html.write_text(page, encoding="utf-8")
    screenshot(html, png, tmp_path / "chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "report.png")
    shutil.copy(html, ARTIFACTS / "report.html")

    pixels = imread(png)
    assert pixels.shape[:2] == (SIZE[1], SIZE[0])
    plots = pixels[350:, :, :3]  # below the header and the summary table
    rgb = (plots * 255).astype(np.uint32)
    distinct = len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))
    assert distinct > 200, f"only {distinct} colours: the plots did not draw"
    assert (plots.min(axis=-1) < 0.9).mean() > 0.05, "the plot area is mostly blank"
    for name, colour in [("p50 line", "#1f77b4"), ("p99 line", "#d62728"), ("timeouts", "#9467bd")]:
        assert colour_share(plots, colour) > 0.0005, f"no {name} ({colour}) on the page"
