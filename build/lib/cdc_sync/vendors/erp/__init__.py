"""The ERP: no destination kind of its own (cdc-sync sends it signed webhooks); its sandbox."""
