"""Text PostgreSQL can store: NUL and lone surrogates are found anywhere in a tree, and cleaned."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdc_sync.model.storable import REPLACEMENT, check_storable, storable, unstorable


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("", None),
        ("a\x00b", "a NUL character"),
        ("\ud800", "a lone surrogate"),
        ("😀", None),
    ],
)
def test_what_postgresql_refuses_in_text(text: str, problem: str | None) -> None:
    assert unstorable(text) == problem


@pytest.mark.parametrize(
    ("tree", "where"),
    [
        ({"a": {"b": ["ok", "x\x00"]}}, "a.b[1]"),
        ({"a": {"b\x00": 1}}, "a.b\ufffd"),  # a key, named without the character itself
        (["\udfff"], "[0]"),
        ("\x00", "contains a NUL"),
    ],
)
def test_the_first_unstorable_string_is_named_by_its_path(tree: object, where: str) -> None:
    with pytest.raises(ValueError, match="cannot be stored") as refused:
        check_storable(tree)
    assert where in str(refused.value) and unstorable(str(refused.value)) is None


def test_a_deeply_nested_document_does_not_exhaust_the_stack() -> None:
    deep: object = "fine"
    for _ in range(5000):
        deep = {"n": [deep]}
    assert check_storable(deep) is deep


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_cleaned_text_is_always_storable_and_keeps_everything_else(text: str) -> None:
    cleaned = storable(text)
    assert unstorable(cleaned) is None and len(cleaned) == len(text)
    assert all(c in (REPLACEMENT, o) for c, o in zip(cleaned, text, strict=True))
