"""Versioned contracts in schemas/: accepted versions, backward rule, required fields."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cdc_sync.errors import ConfigError, ContractViolation
from cdc_sync.outbound.contracts import Contract, field_types, load_contracts
from cdc_sync.outbound.envelope import row_record
from tests.unit.outbound.test_envelope import FixtureSchemas, decoded

ROOT = Path(__file__).parents[3]
CONTACTS = ROOT / "schemas" / "crm.public.contacts-value"


def golden_row_schema(schema_id: int) -> Any:
    return row_record(FixtureSchemas().by_id[schema_id])


def v1() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CONTACTS / "v1.avsc").read_text())
    return schema


def with_field(schema: dict[str, Any], name: str, avro_type: Any) -> dict[str, Any]:
    changed = copy.deepcopy(schema)
    changed["fields"].append({"name": name, "type": avro_type})
    return changed


def test_repo_contracts_load() -> None:
    contracts = load_contracts(ROOT / "schemas").by_subject
    assert {
        "crm.public.contacts-value",
        "crm.public.contact_tags-value",
        "crm.public.subscriptions-value",
    } <= set(contracts)
    assert contracts["crm.public.contacts-value"].compatibility == "backward"


def test_a_live_event_matches_its_contract() -> None:
    contracts = load_contracts(ROOT / "schemas")
    event = decoded("00-contacts-create")
    assert contracts.check(event, golden_row_schema(event.schema_id)) == 1


def test_exact_contract_rejects_any_other_schema() -> None:
    contract = Contract("s", {1: field_types(v1())})
    with pytest.raises(ContractViolation, match="matches no accepted version"):
        contract.accepted_version(field_types(with_field(v1(), "nickname", ["null", "string"])))


def test_backward_accepts_an_added_optional_column_only() -> None:
    contract = Contract("s", {1: field_types(v1())}, compatibility="backward")
    assert contract.accepted_version(field_types(with_field(v1(), "nickname", ["null", "string"]))) == 1
    with pytest.raises(ContractViolation, match="new required field 'score'"):
        contract.accepted_version(field_types(with_field(v1(), "score", "long")))


def test_dropped_or_retyped_fields_are_named_in_the_reason() -> None:
    contract = Contract("s", {1: field_types(v1())}, compatibility="backward")
    dropped = copy.deepcopy(v1())
    dropped["fields"] = [f for f in dropped["fields"] if f["name"] != "email"]
    retyped = copy.deepcopy(v1())
    next(f for f in retyped["fields"] if f["name"] == "country")["type"] = "long"
    with pytest.raises(ContractViolation, match="missing field 'email'"):
        contract.accepted_version(field_types(dropped))
    with pytest.raises(ContractViolation, match="field 'country' changed type"):
        contract.accepted_version(field_types(retyped))


def test_required_fields_must_be_present(tmp_path: Path) -> None:
    folder = tmp_path / "crm.public.contacts-value"
    folder.mkdir()
    (folder / "v1.avsc").write_text((CONTACTS / "v1.avsc").read_text())
    (folder / "contract.toml").write_text('compatibility = "exact"\nrequired = ["id", "phone"]\n')
    contracts = load_contracts(tmp_path)
    event = decoded("00-contacts-create")
    writer = golden_row_schema(event.schema_id)
    assert contracts.check(event, writer) == 1  # phone is set in the golden insert
    nulled = event.model_copy(update={"after": {**(event.after or {}), "phone": None}})
    with pytest.raises(ContractViolation, match="required field"):
        contracts.check(nulled, writer)


def test_bad_contract_folders_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "empty-value").mkdir()
    with pytest.raises(ConfigError, match=r"needs at least v1\.avsc"):
        load_contracts(tmp_path)
