"""Pure normalization of CRM values into the forms the vendor APIs accept.

`normalize` cleans contact fields (email, phone, country, locale, timezone, timestamps, tags,
CSAT), `enums` maps CRM vocabularies onto vendor whitelists, and `pii` cleans free text and
masks personal data. Nothing here touches a clock, the network or a database.
"""
