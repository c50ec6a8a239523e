"""Data-subject requests (`cdc-sync privacy export|erase|correct contact:N`): the rules in
`requests` (pure), the flows composing the vendors' `SubjectRights` and the store in `flows`."""
