"""Recording links are untrusted: only HTTPS links on an allow-listed media host are kept; every
trick to reach another host or an internal address is refused."""

import pytest

from cdc_sync.vendors.callcenter.recordings import RecordingRefused, check_addresses, check_recording_url

ALLOWED = frozenset({"media.callcenter.example"})


def test_an_https_link_on_the_media_host_is_kept() -> None:
    assert (
        check_recording_url("https://Media.CallCenter.example./rec/1?sig=abc", ALLOWED)
        == "media.callcenter.example"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://media.callcenter.example/rec/1", "not https"),
        ("https://evil.example/rec/1", "not on the allow-list"),
        ("https://media.callcenter.example@evil.example/rec/1", "credentials"),
        ("https://user:pw@media.callcenter.example/rec/1", "credentials"),
        ("https://media.callcenter.example:8443/rec/1", "port 8443"),
        ("https://127.0.0.1/rec/1", "address"),
        ("https://[::ffff:127.0.0.1]/rec/1", "address"),
        ("https://169.254.169.254/latest/meta-data", "address"),
        ("https://media.callcenter.example\\@evil.example/", "backslashes"),
        ("https://media.callcenter.example.evil.example/rec", "not on the allow-list"),
        ("javascript:alert(1)", "not https"),
    ],
)
def test_links_elsewhere_are_refused(url: str, reason: str) -> None:
    with pytest.raises(RecordingRefused, match=reason):
        check_recording_url(url, ALLOWED)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.1.1",
        "192.168.0.1",
        "169.254.169.254",
        "::ffff:127.0.0.1",
        "::1",
        "fd00::1",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    with pytest.raises(RecordingRefused, match="not public"):
        check_addresses(["93.184.216.34", address])


def test_public_addresses_pass() -> None:
    check_addresses(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
