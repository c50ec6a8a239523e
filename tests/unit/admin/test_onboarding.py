"""What onboarding says of a captured table, one line per problem with its fix."""

from cdc_sync.admin.onboarding import Context, TableFacts, problems

READY = TableFacts("public.deals", True, "f", True, True)
CONTEXT = Context({"crm.public.deals-value"}, {"public.deals"}, "crm")


def test_a_ready_table_has_no_problems() -> None:
    assert problems([READY], CONTEXT) == []


def test_a_table_from_nothing_gets_every_line_and_the_sql_to_prepare_it() -> None:
    found = problems(
        [TableFacts("public.deals", True, "d", False, False)], Context(set(), {"public.deals"}, "crm")
    )
    assert [(p.what, p.refuses) for p in found] == [
        ("replica identity is DEFAULT, not FULL", True),
        ("no sync_origin column", False),
        ("no contract in schemas/", False),  # routed: its events are checked against one
    ]
    assert found[0].prepare == ('ALTER TABLE "public"."deals" REPLICA IDENTITY FULL',)
    column, function, trigger = found[1].prepare
    assert column == 'ALTER TABLE "public"."deals" ADD COLUMN sync_origin text'
    assert "current_setting('cdc_sync.origin', true)" in function
    assert trigger.startswith('CREATE OR REPLACE TRIGGER "deals_sync_origin" BEFORE INSERT OR UPDATE')
    assert "cdc-sync contracts accept crm.public.deals-value" in found[2].fix


def test_no_primary_key_refuses_and_cannot_be_prepared() -> None:
    (found,) = problems([TableFacts("public.deals", False, "f", True, True)], CONTEXT)
    assert (found.refuses, found.prepare) == (True, ())
    assert found.line() == "public.deals: no primary key — add one: change events are keyed and ordered by it"


def test_a_column_without_its_trigger_gets_only_the_trigger() -> None:
    (found,) = problems([TableFacts("public.deals", True, "f", True, False)], CONTEXT)
    assert found.what == "no trigger sets sync_origin" and len(found.prepare) == 2


def test_a_lookup_table_needs_no_contract_and_is_said_to_be_delivered_nowhere() -> None:
    (found,) = problems([READY], Context(set(), set(), "crm"))
    assert (found.what, found.refuses) == ("no destination gets it", False)
