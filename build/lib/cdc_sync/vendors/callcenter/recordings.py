"""Recording links are untrusted input: one is kept only if it is HTTPS, on an allow-listed media
host, with no credentials or odd port in it, and its host is a name (never an address). Pure;
cdc-sync stores the link and never fetches the audio, so there is nothing to redirect or rebind.
`check_addresses` checks where a name leads (a renewed link's host, `links.parse_link`): every
address it resolves to must be public (no private, loopback, link-local or metadata address, also
IPv4-mapped in IPv6)."""

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from cdc_sync.errors import RejectedEvent

HTTPS_PORTS = frozenset({None, 443})
MAX_URL = 2048


class RecordingRefused(RejectedEvent):
    """A recording link cdc-sync will not keep (or an address it will not connect to)."""


def check_recording_url(url: str, allowed_hosts: frozenset[str]) -> str:
    """The link's host if the link may be kept; RecordingRefused with the reason otherwise."""
    if len(url) > MAX_URL or any(ch.isspace() or ch == "\\" or ord(ch) < 0x20 for ch in url):
        raise RecordingRefused(
            "recording link is too long or has whitespace, control characters or backslashes"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RecordingRefused(f"recording link is not a URL: {exc}") from None
    if parts.scheme.lower() != "https":
        raise RecordingRefused("recording link is not https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise RecordingRefused("recording link carries credentials")
    if port not in HTTPS_PORTS:
        raise RecordingRefused(f"recording link names port {port}")
    host = (parts.hostname or "").rstrip(".").lower()
    if _is_address(host):
        raise RecordingRefused("recording link names an address, not a host")
    if host not in allowed_hosts:
        raise RecordingRefused(f"recording host {host[:80]!r} is not on the allow-list")
    return host


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_addresses(addresses: Iterable[str]) -> None:
    """RecordingRefused unless every address is a public unicast one."""
    for text in addresses:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise RecordingRefused(f"address {address} is not public")
