"""Reading Step 2b's names answer, whatever shape a server gave it: the schema's JSON, JSON-ish text beside it,
or one name per line."""

from __future__ import annotations

import re
from typing import Any

from ictc.models.stray_text import without_invisible
from ictc.models.structured import loads_lenient, parse_json_object

# a "name" that is JSON or a Python literal itself (a brace, a bracket, a quote before a colon or comma): what a
# line-by-line reading of an unread JSON answer gives ('{', 'names": [', 'Green",'); never a cluster name
_JSON_TEXT = re.compile(r"[{}\[\]]|[\"']\s*[:,]")


def _names_in(value: Any) -> list[Any] | None:
    """The list of names a parsed answer holds: itself when a list; an object's "names" list; a tool call's
    arguments' ({"name": ..., "arguments": {...}}); else the one list the object holds ({"cluster_names": [...]}
    from a server that ignored the schema). None when there is no such list."""
    if isinstance(value, list):
        return value
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("names"), list):
        return list(value["names"])
    arguments = value.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = loads_lenient(arguments)
        except ValueError:
            arguments = None
    if isinstance(arguments, dict | list) and (found := _names_in(arguments)) is not None:
        return found
    lists = [v for v in value.values() if isinstance(v, list)]
    return lists[0] if len(lists) == 1 else None


def _name_of(item: Any) -> str:
    """One name of a names list: a string, or an object's "name" (else its first string value):
    [{"name": "Green", "description": ...}] from a server that ignored the schema."""
    if isinstance(item, dict):
        item = item.get("name") if isinstance(item.get("name"), str) else next(
            (v for v in item.values() if isinstance(v, str)), "")
    return "" if item is None else str(item)


def parse_names(content: str) -> list[str]:
    """The names in an answer, read leniently (JSON with trailing commas, a Python dict literal, a bare list, a
    tool call, another key than "names", objects with a "name": `_names_in`), else one per line (bullets and
    numbers removed). Quotes, markdown stars and invisible characters (a BOM, zero-width spaces:
    stray_text.without_invisible, as labels get) are stripped; a name that is JSON text itself (`_JSON_TEXT`)
    becomes empty; empty and repeated names are kept (check_names counts them, and the stated fallback follows)."""
    parsed: Any = parse_json_object(content)
    bare = re.sub(r"```(?:json)?", "", content).strip()
    if parsed is None and bare.startswith("["):
        try:
            parsed = loads_lenient(bare[:bare.rfind("]") + 1])
        except ValueError:
            parsed = None
    if parsed is None and bare.count('"') >= 4 and "\n" not in bare:  # '"Red", "Green", "Blue"' on one line
        try:
            parsed = loads_lenient(f"[{bare}]")
        except ValueError:
            parsed = None
    found = _names_in(parsed)
    if found is None and (cut := re.search(r"[\"']names[\"']\s*:\s*\[([^\]]*)", content)):
        found = re.findall(r'"((?:[^"\\]|\\.)*)"', cut[1])  # an answer the token cap ended inside its list
    if found is not None:
        raw = [_name_of(n) for n in found]
    else:  # a plain list, one name per line, possibly numbered or bulleted
        raw = [re.sub(r"^\s*(?:[-*\u2022]|\d+[.)])\s*", "", line) for line in content.splitlines()]
    names = [without_invisible(n).strip("\"'`*").strip() for n in raw]
    return ["" if _JSON_TEXT.search(n) else n for n in names]
