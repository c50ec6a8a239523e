"""Versioned data contracts: `schemas/<subject>/v<N>.avsc` plus `contract.toml`.

A contract pins the *row* record of a table's change events (the envelope's `before`/`after`
type), so a Debezium upgrade that changes the `source` block does not break it. An event is
accepted when its writer row schema equals an accepted version, or — with
`compatibility = "backward"` — keeps every field of the latest version with the same type and
adds only optional ones. `required` fields must be non-null in every new row image.
"""

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cdc_sync.errors import ConfigError, ContractViolation
from cdc_sync.events import ChangeEvent

Compatibility = Literal["exact", "backward"]
FieldTypes = dict[str, str]
_KEPT_PROPERTIES = ("type", "logicalType", "precision", "scale", "connect.name", "items", "values", "symbols")


def _type_signature(avro_type: Any) -> str:
    """A field type without defaults, docs and connect.* decoration, for comparison."""
    if isinstance(avro_type, list):
        return "|".join(sorted(_type_signature(branch) for branch in avro_type))
    if isinstance(avro_type, dict):
        kept = {key: _type_signature(avro_type[key]) for key in _KEPT_PROPERTIES if key in avro_type}
        return json.dumps(kept, sort_keys=True)
    return str(avro_type)


def field_types(row_schema: Mapping[str, Any]) -> FieldTypes:
    return {item["name"]: _type_signature(item["type"]) for item in row_schema.get("fields", [])}


def _optional(signature: str) -> bool:
    return "null" in signature.split("|")


@dataclass(frozen=True)
class Contract:
    subject: str
    versions: dict[int, FieldTypes]
    compatibility: Compatibility = "exact"
    required: tuple[str, ...] = ()

    @property
    def latest(self) -> int:
        return max(self.versions)

    def differences(self, writer: FieldTypes) -> list[str]:
        """Why `writer` is not backward compatible with the latest version (empty if it is)."""
        latest = self.versions[self.latest]
        problems = [f"missing field '{name}'" for name in latest if name not in writer]
        problems += [
            f"field '{name}' changed type"
            for name, sig in latest.items()
            if name in writer and writer[name] != sig
        ]
        problems += [
            f"new required field '{name}'"
            for name in writer
            if name not in latest and not _optional(writer[name])
        ]
        return problems

    def accepted_version(self, writer: FieldTypes) -> int:
        for version, fields in self.versions.items():
            if fields == writer:
                return version
        problems = self.differences(writer)
        if self.compatibility == "backward" and not problems:
            return self.latest
        accepted = ", ".join(f"v{version}" for version in self.versions)
        raise ContractViolation(
            f"{self.subject}: writer schema matches no accepted version ({accepted})"
            + (f": {'; '.join(problems)}" if problems else "")
        )


@dataclass
class Contracts:
    """All contracts, with the verdict per (subject, schema id) cached: schemas are immutable."""

    by_subject: dict[str, Contract]
    _verdicts: dict[tuple[str, int], int | str] = field(default_factory=dict)

    def check(self, event: ChangeEvent, writer_row_schema: Mapping[str, Any]) -> int:
        """The contract version the event satisfies, or `ContractViolation` with the reason."""
        subject = f"{event.source.topic}-value"
        contract = self.by_subject.get(subject)
        if contract is None:
            raise ContractViolation(f"{subject}: no contract in schemas/ for this subject")
        verdict = self._verdicts.get((subject, event.schema_id))
        if verdict is None:
            try:
                verdict = contract.accepted_version(field_types(writer_row_schema))
            except ContractViolation as exc:
                verdict = str(exc)
            self._verdicts[(subject, event.schema_id)] = verdict
        if isinstance(verdict, str):
            raise ContractViolation(verdict)
        _check_required(contract, event)
        return verdict


def _check_required(contract: Contract, event: ChangeEvent) -> None:
    if event.after is None:
        return
    missing = [name for name in contract.required if event.after.get(name) is None]
    if missing:
        raise ContractViolation(f"{contract.subject}: required field(s) {', '.join(missing)} missing or null")


def load_contract(folder: Path) -> Contract:
    versions = {}
    for path in sorted(folder.glob("v*.avsc")):
        try:
            versions[int(path.stem[1:])] = field_types(json.loads(path.read_text()))
        except (ValueError, OSError) as exc:
            raise ConfigError(f"{path}: not a readable Avro record schema: {exc}") from exc
    if not versions:
        raise ConfigError(f"{folder}: a contract needs at least v1.avsc")
    rules = _rules(folder / "contract.toml")
    return Contract(
        folder.name, versions, rules.get("compatibility", "exact"), tuple(rules.get("required", ()))
    )


def _rules(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        rules = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if rules.get("compatibility", "exact") not in ("exact", "backward"):
        raise ConfigError(f"{path}: compatibility must be 'exact' or 'backward'")
    return rules


def load_contracts(root: Path) -> Contracts:
    if not root.is_dir():
        raise ConfigError(f"contracts folder {root} does not exist")
    return Contracts(
        {folder.name: load_contract(folder) for folder in sorted(root.iterdir()) if folder.is_dir()}
    )
