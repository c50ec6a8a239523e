"""Contracts against the live registry: check every subject, accept a new version."""

import json
from pathlib import Path
from typing import Any

from cdc_sync.errors import ConfigError, ContractViolation
from cdc_sync.outbound.contracts import field_types, load_contract, load_contracts
from cdc_sync.outbound.envelope import row_record
from cdc_sync.outbound.registry import SchemaRegistry


def _latest_row_schema(registry: SchemaRegistry, subject: str) -> dict[str, Any]:
    latest = registry.version(subject)
    return dict(row_record(json.loads(latest["schema"])))


def check_contracts(registry: SchemaRegistry, root: Path, topic_prefix: str) -> list[dict[str, Any]]:
    contracts = load_contracts(root).by_subject
    subjects = [s for s in registry.subjects() if s.startswith(f"{topic_prefix}.") and s.endswith("-value")]
    report = []
    for subject in sorted(set(subjects) | set(contracts)):
        report.append(_verdict(registry, contracts.get(subject), subject, subject in subjects))
    return report


def _verdict(registry: SchemaRegistry, contract: Any, subject: str, registered: bool) -> dict[str, Any]:
    if contract is None:
        return {
            "subject": subject,
            "verdict": "uncontracted",
            "detail": "no folder in schemas/ (not delivered)",
        }
    if not registered:
        return {"subject": subject, "verdict": "unregistered", "detail": "no schema in the registry yet"}
    try:
        version = contract.accepted_version(field_types(_latest_row_schema(registry, subject)))
    except ContractViolation as exc:
        return {"subject": subject, "verdict": "violation", "detail": str(exc)}
    return {"subject": subject, "verdict": "accepted", "detail": f"latest registered schema = v{version}"}


def accept_latest(registry: SchemaRegistry, root: Path, subject: str) -> Path | None:
    """Write the registry's latest row schema as v<N+1>; None if an existing version matches."""
    if subject not in registry.subjects():
        raise ConfigError(f"no subject {subject!r} in the registry")
    row_schema = _latest_row_schema(registry, subject)
    folder = root / subject
    versions: dict[int, Any] = {}
    if folder.is_dir() and any(folder.glob("v*.avsc")):
        versions = load_contract(folder).versions
        if field_types(row_schema) in versions.values():
            return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{max(versions, default=0) + 1}.avsc"
    path.write_text(json.dumps(row_schema, indent=2) + "\n")
    return path
