"""Where the call center's recordings may live: an allow-list of media hosts, from the environment
(CDC_SYNC_CALLCENTER_MEDIA_HOSTS, comma-separated); a link elsewhere is never stored."""

import os

MEDIA_HOSTS_ENV = "CDC_SYNC_CALLCENTER_MEDIA_HOSTS"
DEFAULT_MEDIA_HOSTS = "media.callcenter.example"  # the sandbox's signed links


def media_hosts(environ: dict[str, str] | None = None) -> frozenset[str]:
    """The hosts a recording link may point to (comma-separated in CDC_SYNC_CALLCENTER_MEDIA_HOSTS)."""
    env = os.environ if environ is None else environ
    listed = env.get(MEDIA_HOSTS_ENV) or DEFAULT_MEDIA_HOSTS
    return frozenset(host.strip().lower().rstrip(".") for host in listed.split(",") if host.strip())
