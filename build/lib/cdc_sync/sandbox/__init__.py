"""Vendor sandboxes: HTTP servers that speak the subset of each vendor's API cdc-sync's adapters
use (each vendor's app is in its folder under `vendors/`), one process per vendor under
`cdc-sync sandbox`.

Each app keeps its vendor state in memory, records the latest vendor requests, deduplicates on
`Idempotency-Key` (and per batch item on `X-Item-Idempotency-Keys`) and injects faults on
demand, all inspectable and steerable under `/_sandbox/`. This package is what they share; each
vendor's own app is `vendors/<name>/sandbox.py`, found through `vendors/registry.py`.
"""
