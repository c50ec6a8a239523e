"""DLQ depth per destination, and labelled gauges that drop what is no longer read."""

from prometheus_client import CollectorRegistry, Gauge

from cdc_sync.observability.metrics import publish
from cdc_sync.observability.state_gauges import dead_letter_levels
from cdc_sync.store.health import DeadLetterDepth


def test_destinations_without_open_letters_read_zero() -> None:
    depths = [DeadLetterDepth("marketing", 3, 120.5), DeadLetterDepth("", 1, 9.0)]
    levels = dead_letter_levels(depths, ["marketing", "helpdesk"])
    assert levels == {"marketing": (3, 120.5), "helpdesk": (0, 0.0), "": (1, 9.0)}


def test_publish_sets_readings_and_drops_label_sets_no_longer_read() -> None:
    registry = CollectorRegistry()
    gauge = Gauge("slot_lag_bytes", "test", ["slot"], registry=registry)
    shown = publish(gauge, {("a",): 10, ("b",): 20}, set())
    shown = publish(gauge, {("b",): 25}, shown)
    assert shown == {("b",)}
    assert registry.get_sample_value("slot_lag_bytes", {"slot": "a"}) is None
    assert registry.get_sample_value("slot_lag_bytes", {"slot": "b"}) == 25
