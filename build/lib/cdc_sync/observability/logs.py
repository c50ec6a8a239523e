"""Log output: JSON lines or text, with secrets redacted and personal data masked in every record.

Redaction happens in a filter on the root handler, after the message is formatted with its
arguments and after a traceback is rendered, so a secret cannot slip through in `%s` arguments,
an exception's message or an `extra` field. Secrets are known by value (registered at start-up
from the settings, destination credentials and webhook secrets) and by shape (Authorization
headers, Basic/Bearer credentials, `whsec_` keys, DSN passwords, token query parameters).
"""

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from json import dumps
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

from cdc_sync.mapping.pii import mask_for_log

REDACTED = "[REDACTED]"
JSON_ENV = "CDC_SYNC_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Shorter values would blank out ordinary words; no real credential is this short.
MIN_SECRET_LENGTH = 4

# Shapes of credentials, each keeping the part before the secret (group 1).
_SECRET_SHAPES = (
    re.compile(r"(?i)\b((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+"),
    re.compile(r"\b((?:Basic|Bearer)\s+)[A-Za-z0-9+/=._~-]{6,}"),
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=_-]+"),
    re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?=@)"),  # scheme://user:password@
    # key=value in query strings and DSNs, key: value in headers and reprs.
    re.compile(
        r"(?i)\b((?:x-)?(?:api[-_]?key|password|passwd|pwd|secret|client_secret|token|access_token)"
        r"['\"]?\s*[:=]\s*['\"]?)[^'\"\s,;&}]+"
    ),
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# International numbers (+ and 7-15 digits) and grouped national ones such as (555) 010-9999 or
# 555-010-9999; bare digit runs are left alone (offsets, ids and timestamps look the same).
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d(?:[\s.()-]{0,2}\d){6,14}"
    r"|(?:\(\d{2,4}\)\s?|\d{2,4}[\s.-])\d{3,4}[\s.-]\d{3,4})(?![\w])"
)
# Attributes every LogRecord has; anything else on a record came in through `extra`.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class Redactor:
    """Replaces registered secret values and credential shapes, and masks emails and phone numbers."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._known: re.Pattern[str] | None = None

    def register(self, *values: str | SecretStr | None) -> None:
        for value in values:
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            self._secrets.update(_forms_of(plain or ""))
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first: no partial leftovers
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        for shape in _SECRET_SHAPES:
            text = shape.sub(lambda match: match.group(1) + REDACTED, text)
        text = _EMAIL.sub(lambda match: mask_for_log(match.group()), text)
        return _PHONE.sub(lambda match: mask_for_log(match.group()), text)

    def scrub(self, value: Any) -> Any:
        """A value of an `extra` field made safe: strings redacted, containers walked."""
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {self.redact(str(key)): self.scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.scrub(item) for item in value]
        return self.redact(str(value))


def _forms_of(secret: str) -> set[str]:
    """The secret as it may show up: itself, URL-encoded, and only its password if it is a URL."""
    try:
        password = urlsplit(secret).password if "://" in secret else None
    except ValueError:
        password = None
    value = password or secret
    if len(value) < MIN_SECRET_LENGTH:
        return set()
    return {value, quote(value, safe="")}


REDACTOR = Redactor()


def register_secrets(*values: str | SecretStr | None) -> None:
    """Values that must never appear in a log line (the process-wide redactor)."""
    REDACTOR.register(*values)


def secret_fields(model: BaseModel) -> list[SecretStr]:
    """Every SecretStr field of a settings or config object."""
    values = (getattr(model, name) for name in type(model).model_fields)
    return [value for value in values if isinstance(value, SecretStr)]


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS}


class RedactingFilter(logging.Filter):
    """Formats the message, renders the traceback, then redacts both and every `extra` field."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redactor = redactor
        self._renderer = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self._redactor.redact
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._renderer.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in extra_fields(record).items():
            setattr(record, key, self._redactor.scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the `extra` fields, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            **extra_fields(record),  # first: an extra field cannot pose as one of the fixed ones
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with `extra` fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        extras = " ".join(f"{key}={value}" for key, value in extra_fields(record).items())
        line = super().formatMessage(record)
        return f"{line} {extras}" if extras else line


def wants_json(flag: bool, environ: Mapping[str, str]) -> bool:
    return flag or environ.get(JSON_ENV, "").strip().lower() == "json"


def log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("cdc_sync").critical("uncaught exception", exc_info=(kind, error, trace))


class RedactedOutput(logging.StreamHandler[TextIO]):
    """The root handler of cdc-sync. Without a stream of its own it writes to whatever
    sys.stderr is at the time (click's test runner swaps it per invocation)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: int, json: bool, stream: TextIO | None = None) -> logging.Handler:
    """One redacting handler on the root logger, on stderr (or `stream`); configuring again
    replaces it. Handlers others put there (pytest's capture) stay."""
    handler = RedactedOutput(stream)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, RedactedOutput)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    sys.excepthook = log_uncaught  # a crash's traceback is redacted like any other
    # Request lines of the HTTP client would drown everything else (and carry member hashes).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return handler
