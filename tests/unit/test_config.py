"""The config file names what the vendor registry has: kinds, their own settings, systems and
signing schemes. A mistake is one ConfigError line naming the place, at load time."""

from pathlib import Path

import pytest

from cdc_sync.config import AppConfig, load_config
from cdc_sync.errors import ConfigError
from cdc_sync.vendors.mailchimp.options import MailchimpOptions

DESTINATION = """
[destinations.marketing]
kind = "{kind}"
system = "{system}"
base_url = "http://127.0.0.1:9101"
tables = ["public.contacts"]
credential_env = "MAILCHIMP_KEY"
{extra}
"""


def load(tmp_path: Path, text: str) -> AppConfig:
    path = tmp_path / "cdc-sync.toml"
    path.write_text(text)
    return load_config(path)


def destination(kind: str = "mailchimp", system: str = "marketing", extra: str = "") -> str:
    return DESTINATION.format(kind=kind, system=system, extra=extra)


def test_the_shipped_config_loads(tmp_path: Path) -> None:
    config = load_config(Path("config/cdc-sync.toml"))
    assert MailchimpOptions.of(config.destinations["marketing"]).list_id


def test_a_vendor_setting_is_read_by_its_vendor(tmp_path: Path) -> None:
    config = load(tmp_path, destination(extra='list_id = "aud-1"'))
    assert MailchimpOptions.of(config.destinations["marketing"]).list_id == "aud-1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            destination(kind="salesforce"),
            "destinations: destination marketing: no destination kind 'salesforce'",
        ),
        (
            destination(extra='lst_id = "aud-1"'),
            "destination marketing: lst_id: Extra inputs are not permitted",
        ),
        (
            destination(kind="webhook", extra='list_id = "x"'),
            "destination marketing: kind webhook takes no setting list_id",
        ),
        (destination(system="billing"), "unknown system billing"),
        ('[authority]\n"*" = "crm"\n"contacts.email" = "nobody"\n', "unknown system nobody"),
        (
            '[sources.erp]\nscheme = "hmac-md5"\nsystem = "erp"\nsecret_envs = ["S"]\n',
            "no signing scheme 'hmac-md5'",
        ),
    ],
)
def test_names_the_registry_does_not_know_are_refused_at_load(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="^" + str(tmp_path / "cdc-sync.toml")) as refused:
        load(tmp_path, text)
    assert reason in str(refused.value)
    assert "\n" not in str(refused.value)


def test_the_notification_url_comes_from_the_environment_never_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="CDC_SYNC_NOTIFICATIONS_URL"):
        load(tmp_path, '[notifications]\nurl = "https://chat.example/hook/t0ken"\n')
    monkeypatch.delenv("CDC_SYNC_NOTIFICATIONS_URL", raising=False)
    assert load(tmp_path, "").notifications.url is None  # unset: alerts are rows only
    monkeypatch.setenv("CDC_SYNC_PAGER_URL", "https://pager.example/hook/t0ken")
    config = load(tmp_path, '[notifications]\nurl_env = "CDC_SYNC_PAGER_URL"\n')
    assert config.notifications.url == "https://pager.example/hook/t0ken"
