from cdc_sync.rules.rollout import bucket, contacts_added, contacts_in, in_share, rollout_key

CONTACTS = range(1, 20_001)


def test_the_bucket_of_a_contact_is_fixed_everywhere() -> None:
    # SHA-256 of "contact:42", first 8 bytes big-endian over 2**64: the same on every host and run.
    # Pinned: a change here would move contacts in and out of every running rollout.
    assert bucket("contact:42") == int("be24c583f78057d0", 16) / 2**64
    assert bucket("contact:42") == bucket("contact:42") != bucket("contact:43")


def test_a_share_picks_about_that_share_of_the_contacts() -> None:
    for share in (0.1, 0.5):
        picked = len(contacts_in(CONTACTS, share)) / len(CONTACTS)
        assert abs(picked - share) < 0.02
    assert contacts_in(CONTACTS, 1.0) == list(CONTACTS)
    assert contacts_in(CONTACTS, 0.0) == []


def test_widening_keeps_the_first_share_and_adds_exactly_the_rest() -> None:
    first, added = set(contacts_in(CONTACTS, 0.1)), set(contacts_added(CONTACTS, 0.1, 0.5))
    assert not first & added
    assert first | added == set(contacts_in(CONTACTS, 0.5))
    assert set(contacts_added(CONTACTS, 0.5, 1.0)) == set(CONTACTS) - first - added


def test_rows_about_a_contact_follow_the_contact() -> None:
    assert rollout_key("public.contacts", {"id": 7}, "contact:7") == "contact:7"
    assert (
        rollout_key("public.contact_tags", {"contact_id": 7, "tag_id": 3}, "contact_tag:7,3") == "contact:7"
    )
    assert (
        rollout_key("public.dial_tasks", {"task_id": 5, "contact_id": None}, "dial_task:5") == "dial_task:5"
    )
    assert in_share("contact:7", 1.0)
