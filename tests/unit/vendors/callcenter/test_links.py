"""The call center's signed recording links: kept only if safe, short-lived and hashed."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cdc_sync.vendors.callcenter.links import fresh, parse_link, provider_call_id
from cdc_sync.vendors.callcenter.recordings import RecordingRefused

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
HOSTS = frozenset({"media.callcenter.example"})
GOOD = {
    "url": "https://media.callcenter.example/recordings/c1.mp3?expires=1&signature=ab",
    "expires_at": "2026-12-03T11:00:00Z",
    "sha256": "A" * 64,
}


def nowhere(host: str) -> list[str]:
    return []


def test_a_short_lived_link_on_the_media_host_is_kept_with_its_hash() -> None:
    link = parse_link(GOOD, NOW, HOSTS, lambda host: ["93.184.216.34"])
    assert (link.url, link.expires_at, link.sha256) == (GOOD["url"], NOW + timedelta(hours=1), "a" * 64)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"url": "http://media.callcenter.example/r.mp3"}, "not https"),
        ({"url": "https://trusted@evil.example/r.mp3"}, "credentials"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "address"),
        ({"url": "https://media.callcenter.example.evil.example/r.mp3"}, "allow-list"),
        ({"expires_at": "2026-12-04T10:00:01Z"}, "24 hours"),
        ({"expires_at": "2026-12-03T09:59:59Z"}, "24 hours"),
        ({"expires_at": "2026-12-03T11:00:00"}, "24 hours"),  # no zone: no knowing when
        ({"expires_at": "soon"}, "not a time"),
        ({"sha256": "xyz"}, "64 hex"),
        ({"url": None}, "lacks"),
    ],
)
def test_unsafe_long_lived_or_malformed_links_are_refused(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(RecordingRefused, match=reason):
        parse_link({**GOOD, **change}, NOW, HOSTS, nowhere)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::ffff:10.0.0.1", "::1"])
def test_an_allow_listed_host_resolving_inside_the_network_is_refused(address: str) -> None:
    with pytest.raises(RecordingRefused, match="not public"):
        parse_link(GOOD, NOW, HOSTS, lambda host: ["93.184.216.34", address])


def test_a_host_that_does_not_resolve_is_kept_as_nothing_is_fetched() -> None:
    assert parse_link(GOOD, NOW, HOSTS, nowhere).url == GOOD["url"]


def test_a_link_is_renewed_shortly_before_it_expires() -> None:
    url = GOOD["url"]
    assert fresh(url, NOW + timedelta(minutes=6), NOW)
    assert not fresh(url, NOW + timedelta(minutes=4), NOW)
    assert not fresh(None, NOW + timedelta(hours=1), NOW)
    assert not fresh(url, None, NOW)


def test_a_transfer_leg_is_asked_for_under_its_call_id() -> None:
    assert (provider_call_id("c-9#2"), provider_call_id("c-9")) == ("c-9", "c-9")
