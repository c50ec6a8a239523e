"""Segment pushes as decisions: what to add and remove, in calls of ≤ 500 of each, and the count check."""

from cdc_sync.vendors.mailchimp.segments import MAX_CHANGES, MemberChanges, counts_agree, vendor_name


def test_the_difference_is_pushed_in_calls_of_at_most_500_adds_and_500_removes() -> None:
    crm = [f"A{n}@Example.com " for n in range(1201)]
    vendor = ["gone@example.com", "a0@example.com"]
    changes = MemberChanges.between(crm, vendor)
    assert len(changes.to_add) == 1200 and changes.to_remove == ("gone@example.com",)
    calls = changes.calls()
    assert [(len(c["members_to_add"]), len(c["members_to_remove"])) for c in calls] == [
        (500, 1),
        (500, 0),
        (200, 0),
    ]
    assert all(len(c["members_to_add"]) <= MAX_CHANGES for c in calls)


def test_nothing_to_change_is_no_call() -> None:
    assert MemberChanges.between(["a@b.c"], ["A@B.C"]).calls() == []


def test_counts_agree_within_the_tolerance_only() -> None:
    assert counts_agree(1200, 1200, 0.0) and counts_agree(0, 0, 0.0)
    assert not counts_agree(1200, 1199, 0.0)
    assert counts_agree(1200, 1189, 0.01) and not counts_agree(1200, 1187, 0.01)


def test_a_segment_name_never_meets_a_tag_name() -> None:
    assert vendor_name("vip") == "segment:vip"  # tags are letters, digits and '-' only
