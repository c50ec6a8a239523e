"""Log lines never carry a secret or readable personal data, in JSON or text, wherever it hides."""

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from cdc_sync.cli import cli
from cdc_sync.observability.logs import (
    REDACTED,
    JsonFormatter,
    RedactedOutput,
    RedactingFilter,
    Redactor,
    TextFormatter,
    configure_logging,
    register_secrets,
    secret_fields,
    wants_json,
)
from cdc_sync.settings import Settings

CANARY_SECRET = "canary-Secret-7Qx9"
CANARY_EMAIL = "jane.canary@example.com"
CANARY_PHONE = "+49 151 2345 6789"
MASKED_EMAIL = "j***@example.com"
MASKED_PHONE = "***89"
LEAKS = (CANARY_SECRET, CANARY_EMAIL, "jane.canary", CANARY_PHONE, "2345 6789")


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, restored after the test (configure_logging replaces its handlers)."""
    logger = logging.getLogger()
    handlers, level, excepthook = list(logger.handlers), logger.level, sys.excepthook
    yield logger
    sys.excepthook = excepthook
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    for handler in handlers:
        logger.addHandler(handler)
    logger.setLevel(level)


def capture(json_lines: bool) -> io.StringIO:
    out = io.StringIO()
    configure_logging(logging.INFO, json_lines, stream=out)
    register_secrets(CANARY_SECRET)
    return out


def log_everywhere() -> None:
    log = logging.getLogger("cdc_sync.test")
    log.warning(f"in the message: {CANARY_SECRET} {CANARY_EMAIL} {CANARY_PHONE}")
    log.warning("in the args: %s %s %s", CANARY_SECRET, CANARY_EMAIL, CANARY_PHONE)
    log.warning("in a mapping: %(who)s", {"who": CANARY_EMAIL})
    extra = {"contact": {"email": CANARY_EMAIL, "phones": [CANARY_PHONE]}, "credential": CANARY_SECRET}
    log.warning("in extra fields", extra=extra)
    try:
        raise RuntimeError(f"vendor said no to {CANARY_EMAIL} using {CANARY_SECRET} ({CANARY_PHONE})")
    except RuntimeError:
        log.exception("in a traceback")


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_no_canary_reaches_the_output(root: logging.Logger, json_lines: bool) -> None:
    out = capture(json_lines)
    log_everywhere()
    text = out.getvalue()
    assert "in a traceback" in text and "RuntimeError" in text  # the traceback is there, redacted
    for leak in LEAKS:
        assert leak not in text
    assert REDACTED in text
    assert MASKED_EMAIL in text and MASKED_PHONE in text  # masked, still telling which one


@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_an_uncaught_exception_is_logged_redacted(root: logging.Logger, json_lines: bool) -> None:
    out = capture(json_lines)
    try:
        raise ValueError(f"bad DSN postgresql://svc:{CANARY_SECRET}@db/crm for {CANARY_EMAIL}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    text = out.getvalue()
    assert "uncaught exception" in text and "ValueError: bad DSN postgresql://svc:[REDACTED]@db/crm" in text
    assert CANARY_SECRET not in text and CANARY_EMAIL not in text


def test_json_lines_carry_the_fields_and_the_extras(root: logging.Logger) -> None:
    out = capture(True)
    log_everywhere()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 5
    assert {"ts", "level", "logger", "message"} <= set(lines[0])
    assert lines[0]["level"] == "WARNING" and lines[0]["logger"] == "cdc_sync.test"
    assert lines[3]["contact"] == {"email": MASKED_EMAIL, "phones": [MASKED_PHONE]}
    assert lines[3]["credential"] == REDACTED
    assert "RuntimeError" in lines[4]["exc_info"]


def test_text_lines_show_the_extras_masked(root: logging.Logger) -> None:
    out = capture(False)
    logging.getLogger("cdc_sync.test").info("sent", extra={"email": CANARY_EMAIL, "attempt": 2})
    assert out.getvalue().rstrip().endswith(f"cdc_sync.test: sent email={MASKED_EMAIL} attempt=2")


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("request headers {'Authorization': 'Basic dXNlcjpodW50ZXIy'}", "dXNlcjpodW50ZXIy"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("basic credentials Basic YWdlbnQvdG9rZW46c2VjcmV0 refused", "YWdlbnQvdG9rZW46c2VjcmV0"),
        ("webhook secret whsec_c2FuZGJveC1lcnA= rotated", "c2FuZGJveC1lcnA="),
        ("cannot connect postgresql+psycopg://cdc_writer:hunter2@db:5432/crm", "hunter2"),
        ("dsn host=db user=cdc password=hunter2 dbname=crm", "hunter2"),
        ("GET /webhooks/marketing-lists?secret=s3kr1t&x=1", "s3kr1t"),
        ("GET https://api.example.com/v1?api_key=k3y-abc&token=t0k-xyz", "k3y-abc"),
        ("GET https://api.example.com/v1?api_key=k3y-abc&token=t0k-xyz", "t0k-xyz"),
        ("config {'api_key': 'k3y-abc'}", "k3y-abc"),
    ],
)
def test_credential_shapes_are_redacted_without_registration(line: str, secret: str) -> None:
    redacted = Redactor().redact(line)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    "line",
    [
        "consumed crm.contacts/2@1234567 at 2026-11-23 12:48:35.123+00:00",
        "slot cdc_sync_crm at 0/6F71100, 127.0.0.1:9108, version 1.10.0",
        "event 550e8400-e29b-41d4-a716-446655440000 took 0.250s",
        "uses basic authentication; no webhook secret set: export CDC_SYNC_ERP_WEBHOOK_SECRET",
    ],
)
def test_ordinary_lines_stay_as_they_are(line: str) -> None:
    assert Redactor().redact(line) == line


def test_registered_secrets_are_redacted_also_url_encoded_and_as_dsn_password() -> None:
    redactor = Redactor()
    redactor.register("a+b/c=d", SecretStr("postgresql://svc:pa55word@db/crm"), None, "", "ab")
    line = redactor.redact("key a+b/c=d or a%2Bb%2Fc%3Dd, password pa55word, host db, ab")
    assert line == "key [REDACTED] or [REDACTED], password [REDACTED], host db, ab"


def test_every_secret_of_the_settings_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDC_SYNC_CRM_DSN", "postgresql+psycopg://cdc_writer:w-Canary-1@db/crm")
    monkeypatch.setenv("CDC_SYNC_CRM_ADMIN_DSN", "postgresql+psycopg://crm_owner:o-Canary-2@db/crm")
    redactor = Redactor()
    redactor.register(*secret_fields(Settings()))
    line = redactor.redact("w-Canary-1 o-Canary-2 postgresql+psycopg://cdc_writer:w-Canary-1@db/crm")
    assert "Canary" not in line


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [(True, {}, True), (False, {"CDC_SYNC_LOG_FORMAT": "JSON"}, True), (False, {}, False)],
)
def test_json_from_the_flag_or_the_environment(flag: bool, env: dict[str, str], expected: bool) -> None:
    assert wants_json(flag, env) is expected


@pytest.mark.parametrize(
    ("args", "env", "formatter"),
    [
        (["--log-json", "-v"], {}, JsonFormatter),
        (["-v"], {"CDC_SYNC_LOG_FORMAT": "json"}, JsonFormatter),
        (["-v"], {}, TextFormatter),
    ],
)
def test_the_cli_configures_one_redacting_handler(
    root: logging.Logger, args: list[str], env: dict[str, str], formatter: type[logging.Formatter]
) -> None:
    for _ in range(2):
        result = CliRunner(env=env).invoke(cli, [*args, "db", "--help"])
        assert result.exit_code == 0, result.output
    (handler,) = [h for h in root.handlers if isinstance(h, RedactedOutput)]
    assert isinstance(handler.formatter, formatter)
    assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    assert root.level == logging.INFO
