"""Vendor sandboxes: in-process HTTP servers that speak the subset of the marketing (Mailchimp),
helpdesk (Zendesk) and ERP APIs cdc-sync's adapters use.

Each app keeps its vendor state in memory, records every vendor request, deduplicates on
`Idempotency-Key` and injects faults on demand, all inspectable and steerable under `/_sandbox/`.
"""
