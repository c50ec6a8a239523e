"""Text PostgreSQL can store: no NUL character and no lone surrogate (neither has a place in its
text or jsonb). Pure.

The inbound event model refuses such text, so a webhook carrying it is a 422 at the door (a 503 from
the database would have the vendor retry it forever); text we write ourselves from what we were
sent (a rejection's reason quotes an exception, which may quote anything) is cleaned instead.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def unstorable(text: str) -> str | None:
    """What in `text` PostgreSQL refuses, or None if it can be stored."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone surrogate"


def storable(text: str) -> str:
    """`text` with every character PostgreSQL refuses replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def check_storable(value: Any) -> Any:
    """`value` (a string or JSON-like tree) unchanged; ValueError naming the first string in it,
    key or value, that PostgreSQL cannot store."""
    for where, text in _strings(value):
        problem = unstorable(text)
        if problem is not None:
            place = f"{storable(where)} contains" if where else "contains"
            raise ValueError(f"{place} {problem}, which cannot be stored")
    return value


def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """Every string in the tree with its path (keys included), depth first, without recursion (a
    deeply nested document must not exhaust the stack)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node
        elif isinstance(node, Mapping):
            for key, item in node.items():
                child = f"{path}.{key}" if path else str(key)
                yield child, str(key)
                stack.append((child, item))
        elif isinstance(node, list | tuple):
            stack.extend((f"{path}[{n}]", item) for n, item in enumerate(node))
