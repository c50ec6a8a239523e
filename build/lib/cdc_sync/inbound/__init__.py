"""Inbound webhooks: verify a vendor's request (verifiers), turn its body into an `InboundEvent`
(payloads), and commit it to the inbox before answering (app). Sources and secrets in `sources`."""
