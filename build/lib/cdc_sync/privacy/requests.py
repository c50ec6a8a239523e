"""The rules of a data-subject request, pure: which contact, which steps are left, when a request
must wait, what a correction may change, and the outcome recorded per step."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from cdc_sync.errors import ConfigError
from cdc_sync.model.config import Owner
from cdc_sync.rules.authority import owner_of

Kind = Literal["export", "erase", "correct"]
# erased: deleted there now; absent: nothing there (or an earlier run erased it); not_supported:
# the vendor's API cannot do it (the operator asks the vendor); failed: retry with a re-run.
Outcome = Literal["erased", "absent", "exported", "not_supported", "failed", "applied"]
FINISHED: Final = frozenset({"erased", "absent", "exported", "not_supported", "applied"})
OWN_TABLES: Final = "cdc_sync"  # the last step of an erasure: vendor ids are needed until then
CONTACT = re.compile(r"contact:([1-9][0-9]{0,18})")
# Personal data of a contact an operator may rectify; other columns are the CRM's bookkeeping.
CORRECTABLE: Final = frozenset({"first_name", "last_name", "email", "phone", "country", "locale", "timezone"})
# Undelivered or unreviewed work that an erasure or a correction would race with: by kind, why.
IN_FLIGHT: Final = {
    "held": "deliveries held for a paused destination (resume it first)",
    "dead_letters": "open dead letters (replay or discard them: `cdc-sync dlq`)",
    "inbox": "vendor events waiting in the inbox (let the writer apply them)",
    "conflicts": "open conflicts of the contact (`cdc-sync conflicts resolve`)",
    "merges": "an open merge review of the address (`cdc-sync merges resolve`)",
    "requests": "an unfinished erasure (re-run `cdc-sync privacy erase`)",
}


def contact_of(entity: str) -> int:
    """The contact id of `contact:<id>`, the only subject a request names."""
    found = CONTACT.fullmatch(entity.strip())
    if found is None:
        raise ConfigError(f"a data-subject request names one contact as contact:<id>, not {entity!r}")
    return int(found.group(1))


def entity_of(contact_id: int) -> str:
    return f"contact:{contact_id}"


def steps_left(planned: Sequence[str], done: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The steps a (re-)run still has to take, in order: those without a finished outcome."""
    return [step for step in planned if (done.get(step) or {}).get("outcome") not in FINISHED]


def is_finished(planned: Sequence[str], done: Mapping[str, Mapping[str, Any]]) -> bool:
    return not steps_left(planned, done)


def refusal(entity: str, in_flight: Mapping[str, int]) -> str | None:
    """Why a request for `entity` must wait, or None: anything of it not yet delivered or decided
    would act on the person after (and against) the request."""
    waiting = [f"{count} {IN_FLIGHT[kind]}" for kind, count in in_flight.items() if count]
    return f"{entity} has changes in flight: {'; '.join(waiting)}" if waiting else None


def assignments(pairs: Iterable[str]) -> dict[str, str]:
    """`field=value` arguments; an empty value clears the field."""
    found: dict[str, str] = {}
    for pair in pairs:
        field, equals, value = pair.partition("=")
        if not equals or not field.strip():
            raise ConfigError(f"a correction is field=value, not {pair!r}")
        found[field.strip()] = value
    if not found:
        raise ConfigError("a correction needs at least one field=value")
    return found


def check_correction(fields: Iterable[str], rules: Mapping[str, Owner]) -> None:
    """Only the contact's personal data, and only fields the CRM owns (the authority rules): a
    field another system owns is corrected there, and would come back overwritten."""
    for field in fields:
        if field not in CORRECTABLE:
            raise ConfigError(
                f"contacts.{field} is not correctable; one of: {', '.join(sorted(CORRECTABLE))}"
            )
        owner = owner_of(rules, "contacts", field)
        if owner not in ("crm", "both"):
            raise ConfigError(f"contacts.{field} is owned by {owner}: correct it there")


def step(outcome: Outcome, detail: str | None = None) -> dict[str, Any]:
    return {"outcome": outcome, **({"detail": detail} if detail else {})}


def outcomes(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each step's outcome, as the audit log records it (details stay in the request row)."""
    return {name: str(found.get("outcome")) for name, found in steps.items()}
