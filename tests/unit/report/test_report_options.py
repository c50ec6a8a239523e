"""`cdc-sync report` refuses bad options before it reads anything (exit 2, the option named)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from cdc_sync.cli.report import report


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "Invalid value for '--since'"),
        (["--until", "2026-13-01"], "Invalid value for '--until'"),
        (["--bucket", "0m"], "Invalid value for '--bucket': '0m' is not a duration"),
        (["--bucket", "5 minutes"], "Invalid value for '--bucket'"),
        (["--since", "1h", "--until", "2h"], "Invalid value for '--since'"),
        (["--since", "2026-11-23T12:00Z", "--until", "2026-11-23T12:00Z"], "is not before the window end"),
    ],
)
def test_bad_windows_and_buckets_are_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(report, [*args, "--out", f"{tmp_path}/report.html"])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_page_goes_to_an_existing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(report, ["--out", f"{tmp_path}/missing/report.html"])
    assert result.exit_code == 2
    assert f"Invalid value for '--out': directory {tmp_path}/missing does not exist" in result.output
