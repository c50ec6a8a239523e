"""Hostile values and mutations of valid documents and byte strings (hypothesis strategies). Pure.

A valid document is mutated at a few of its paths: a field deleted, replaced by a value of the
wrong type, a huge number, text with NUL bytes or lone surrogates, a deeply nested list or object;
then, sometimes, the encoded bytes are cut, flipped or padded.
"""

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

Path = tuple[str | int, ...]
Json = Any  # whatever json.dumps takes, including ints too large for orjson and NaN

TRICKY_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\uffff",
    "\u202eevil",
    "\u0130\u0131",
    "🙂" * 64,
    "x" * 300,
    "null",
    "0",
    "-1",
    "1e999",
    "NaN",
    "2026-13-45T99:99:99Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "2026-11-23T10:00:00",
    "EUR\x00",
    "a@b",
    "@",
    "zen:event-type:ticket.status_changed\x00",
    "%00",
    "../../etc/passwd",
    "<script>",
)
HUGE_NUMBERS: tuple[Json, ...] = (
    10**400,
    -(10**400),
    2**63,
    2**64,
    -(2**63) - 1,
    1e308,
    5e-324,
    -0.0,
    float("inf"),
    float("nan"),
    99999999999999.99,
    0.001,
)

texts = st.one_of(st.text(max_size=40), st.sampled_from(TRICKY_TEXT))
scalars: st.SearchStrategy[Json] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from(HUGE_NUMBERS),
    texts,
)
values: st.SearchStrategy[Json] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


_DEEP = re.compile(r'"__deep_(list|dict)_(\d+)__"')


def nested(depth: int, kind: str) -> str:
    """A stand-in for `[[[...]]]` or `{"a": {"a": ...}}` `depth` levels deep, written out only by
    `json_bytes` (json.dumps and the mutations themselves would recurse that deep)."""
    return f"__deep_{kind}_{depth}__"


def _deep_text(match: re.Match[str]) -> str:
    depth = int(match.group(2))
    return "[" * depth + "]" * depth if match.group(1) == "list" else '{"a":' * depth + "{}" + "}" * depth


deep = st.builds(nested, st.integers(min_value=100, max_value=5000), st.sampled_from(["list", "dict"]))
replacements: st.SearchStrategy[Json] = st.one_of(*([values] * 6), deep)
MUTATIONS = st.sampled_from(["replace", "replace", "delete", "add", "poison", "poison"])
# Inserted into a string that is otherwise valid, so the event passes the model and meets the store.
POISON = st.sampled_from(
    ["\x00", "\ud800", "\udc00", "\u202e", "\uffff", "\ufeff", "🙂", "\\", '"', "\n", "\x7f"]
)


def paths(document: Json, prefix: Path = ()) -> list[Path]:
    """Every path into a document: the root, each key of each object and each list index."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


def _parent(document: Json, path: Path) -> Json:
    node = document
    for part in path[:-1]:
        node = node[part]
    return node


def replaced(document: Json, path: Path, value: Json) -> Json:
    if not path:
        return value
    _parent(document, path)[path[-1]] = value
    return document


def deleted(document: Json, path: Path) -> Json:
    if not path:
        return {}
    parent = _parent(document, path)
    del parent[path[-1]]
    return document


def added(document: Json, path: Path, key: str, value: Json) -> Json:
    node = _parent(document, (*path, "")) if path else document
    if isinstance(node, dict):
        node[key] = value
    return document


def poisoned(document: Json, path: Path, poison: str, at: int) -> Json:
    """The string at `path` with `poison` inserted (anything else there: replaced by `poison`)."""
    node = _parent(document, path)[path[-1]] if path else document
    return replaced(document, path, node[:at] + poison + node[at:] if isinstance(node, str) else poison)


@st.composite
def mutated(draw: st.DrawFn, document: Json, max_mutations: int = 3) -> Json:
    """`document` with up to `max_mutations` fields deleted, replaced or added (0: unchanged)."""
    doc = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=0, max_value=max_mutations))):
        path = draw(st.sampled_from(paths(doc)))
        how = draw(MUTATIONS)
        if how == "poison":
            doc = poisoned(doc, path, draw(POISON), draw(st.integers(min_value=0, max_value=40)))
        elif how == "replace":
            doc = replaced(doc, path, draw(replacements))
        elif how == "delete":
            doc = deleted(doc, path)
        else:
            doc = added(doc, path, draw(texts), draw(values))
    return doc


def json_bytes(document: Json, ascii_only: bool) -> bytes:
    """JSON text as a lax sender writes it: NaN and huge ints allowed, surrogates passed through."""
    text = _DEEP.sub(_deep_text, json.dumps(document, ensure_ascii=ascii_only, allow_nan=True))
    return text.encode("utf-8", "surrogatepass")


Splice = Callable[[bytes], bytes]


@st.composite
def spliced(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` cut short, with a few bytes overwritten, inserted or deleted, or with junk around it."""
    how = draw(st.sampled_from(["truncate", "overwrite", "insert", "delete", "wrap", "replace"]))
    at = draw(st.integers(min_value=0, max_value=len(data)))
    junk = draw(st.binary(min_size=1, max_size=16))
    if how == "truncate":
        return data[:at]
    if how == "overwrite":
        return data[:at] + junk + data[at + len(junk) :]
    if how == "insert":
        return data[:at] + junk + data[at:]
    if how == "delete":
        return data[:at] + data[at + draw(st.integers(min_value=1, max_value=16)) :]
    if how == "wrap":
        return draw(st.sampled_from([b"\xef\xbb\xbf", b" ", b"\x00", junk])) + data + junk
    return draw(st.binary(max_size=512))


def maybe_spliced(data: bytes, chance_in_8: int = 1) -> st.SearchStrategy[bytes]:
    """`data` itself most of the time, else a splice of it."""
    keep = st.just(data)
    return st.one_of(*([keep] * (8 - chance_in_8)), *([spliced(data)] * chance_in_8))
