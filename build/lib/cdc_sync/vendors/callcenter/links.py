"""A recording's signed link as the call center hands it out (`POST /v1/recordings/{id}/link`):
checked like any recording link, living at most 24 h, with the audio's SHA-256, and its host
resolving to public addresses only (a CRM user's browser will open it). Pure but for the resolver
it is given; the CRM keeps the link until shortly before it expires and then asks for a new one."""

import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cdc_sync.vendors.callcenter.recordings import RecordingRefused, check_addresses, check_recording_url

MAX_LIFE = timedelta(hours=24)
RENEW_BEFORE = timedelta(minutes=5)  # a link about to expire is renewed, not handed out
SHA256 = re.compile(r"^[0-9a-f]{64}$")
Resolver = Callable[[str], list[str]]  # host → its addresses; [] when it does not resolve


@dataclass(frozen=True)
class RecordingLink:
    url: str
    expires_at: datetime
    sha256: str


def provider_call_id(ext_call_id: str) -> str:
    """The call center's id of a call leg stored as `<call id>#<segment>`."""
    return ext_call_id.partition("#")[0]


def fresh(url: str | None, expires_at: datetime | None, now: datetime) -> bool:
    return url is not None and expires_at is not None and expires_at - RENEW_BEFORE > now


def resolve(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})
    except socket.gaierror:
        return []


def parse_link(
    answer: Mapping[str, Any], now: datetime, hosts: frozenset[str], resolver: Resolver = resolve
) -> RecordingLink:
    """The vendor's answer as a link the CRM may keep; RecordingRefused with the reason if not.
    A host that resolves must resolve to public addresses only (one that does not resolve points
    nowhere yet: cdc-sync never fetches the audio, so nothing is rebound behind its back)."""
    url, sha, expires = answer.get("url"), answer.get("sha256"), answer.get("expires_at")
    if not isinstance(url, str) or not isinstance(sha, str) or not isinstance(expires, str):
        raise RecordingRefused("the recording link answer lacks url, sha256 or expires_at")
    check_addresses(resolver(check_recording_url(url, hosts)))
    if not SHA256.match(sha.lower()):
        raise RecordingRefused("the recording's sha256 is not 64 hex digits")
    try:
        expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    except ValueError:
        raise RecordingRefused(f"expires_at {expires[:40]!r} is not a time") from None
    if expires_at.tzinfo is None or not now < expires_at <= now + MAX_LIFE:
        raise RecordingRefused("the recording link must expire within 24 hours from now")
    return RecordingLink(url, expires_at, sha.lower())
