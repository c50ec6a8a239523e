"""Number matching, in the order the call-center guide gives: named contact, the one contact
with the number, the agent's most recently active one of several (ambiguous), else a new lead."""

from datetime import UTC, datetime

from cdc_sync.rules.opportunities import Opportunity, open_opportunity
from cdc_sync.vendors.callcenter.matching import Candidate, match_contact

NUMBER = "+493012345678"
OLD, NEW = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)


def test_the_contact_the_call_center_names_wins() -> None:
    match = match_contact(7, NUMBER, [Candidate(1, NUMBER, None, NEW)], None)
    assert (match.contact_id, match.ambiguous) == (7, False)


def test_one_contact_with_the_number_is_the_match() -> None:
    candidates = [Candidate(1, NUMBER, None, OLD), Candidate(2, "+493099999999", None, NEW)]
    match = match_contact(None, NUMBER, candidates, None)
    assert (match.contact_id, match.ambiguous, match.create_lead) == (1, False, False)


def test_several_pick_the_agents_most_recent_and_are_flagged() -> None:
    candidates = [Candidate(1, NUMBER, 5, OLD), Candidate(2, NUMBER, 9, NEW), Candidate(3, NUMBER, 5, NEW)]
    assert (
        match_contact(None, NUMBER, candidates, 5).contact_id,
        match_contact(None, NUMBER, candidates, 5).ambiguous,
    ) == (3, True)
    assert (
        match_contact(None, NUMBER, candidates, None).contact_id == 3
    )  # nobody's: the most recent, ties by id
    assert match_contact(None, NUMBER, candidates[:2], 5).contact_id == 1


def test_no_contact_with_the_number_is_a_new_lead() -> None:
    match = match_contact(None, NUMBER, [Candidate(2, "+493099999999", None, NEW)], None)
    assert match.create_lead and not match.ambiguous
    assert match_contact(None, None, [], None).create_lead


def test_the_open_opportunity_most_recently_updated_is_linked() -> None:
    opportunities = [
        Opportunity(1, "closed_won", NEW),
        Opportunity(2, "proposal", OLD),
        Opportunity(3, "negotiation", NEW),
    ]
    assert open_opportunity(opportunities) == 3
    assert open_opportunity(opportunities[:1]) is None
