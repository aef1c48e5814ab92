"""Request bodies, read the same way by the HTTP API and the WebSocket API.

`load_json` parses a body with its nesting depth bounded *before* the parser recurses (a body such as
``'[' * 2000 + ']' * 2000`` would otherwise raise RecursionError deep in `json` or pydantic), and
`invalid_input` turns the first pydantic/Powertools validation error into the one `InvalidInput`
shape both APIs answer with (``field`` plus a message naming it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from backbeat.errors import InvalidInput

MAX_JSON_DEPTH = 32

# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_LOCATION_ROOTS = ("body", "query", "path", "header")


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects in `text` nest deeper than `limit` (an iterative scan, no recursion)."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def load_json(text: str | bytes) -> Any:
    """`json.loads` for untrusted bodies. Every way a body can be unreadable (bad syntax, nested deeper
    than MAX_JSON_DEPTH, an integer too long to convert) raises `json.JSONDecodeError`, which the HTTP
    resolver already reports as a 422 naming the body."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if json_depth_exceeds(text):
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", text, 0)
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:  # e.g. an integer past Python's 4300-digit limit
        raise json.JSONDecodeError(str(error), text, 0) from None


def describe(error: dict[str, Any]) -> tuple[str, str]:
    """One validation error as (field, message): ``("songIds.0", "songIds.0: String should have ...")``."""
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error")
        return "body", f"body: not valid JSON ({reason})" if reason else "body: not valid JSON"
    location = [str(part) for part in error.get("loc", ()) if part not in _LOCATION_ROOTS]
    field = ".".join(location) or "body"
    return field, f"{field}: {error.get('msg', 'invalid value')}"


def invalid_input(errors: Sequence[Any]) -> InvalidInput:
    """The `InvalidInput` for a list of pydantic/Powertools validation errors (the first one named)."""
    if not errors:
        return InvalidInput("invalid request")
    field, message = describe(dict(errors[0]))
    return InvalidInput(message, field)
