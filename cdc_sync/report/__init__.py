"""The latency report from the delivery ledger (data, then a self-contained HTML page)."""
