"""The lake's SQL, read from the files in `sql/`: the deduplicating views that every query reads
through, and the daily aggregates. One dialect (standard SQL that Athena and DuckDB both run), so
no statement is translated per engine; `with_views` is the only rewriting, and it is plain SQL too.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from importlib import resources

_BLOCK = re.compile(r"^-- (view|aggregate): (\w+)\s*$", re.MULTILINE)
_LEADING_WITH = re.compile(r"^\s*WITH\s+(?!RECURSIVE\b)", re.IGNORECASE)


def _statement(text: str) -> str:
    """A block's SQL without its comment lines."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")


@cache
def blocks(filename: str) -> dict[str, str]:
    """The named statements of one file of `sql/` (`-- view: name` / `-- aggregate: name` blocks)."""
    text = resources.files("backbeat.analytics").joinpath("sql", filename).read_text(encoding="utf-8")
    parts = _BLOCK.split(text)
    # parts: [preamble, kind, name, body, kind, name, body, ...]
    return {parts[index + 1]: _statement(parts[index + 2]) for index in range(1, len(parts), 3)}


def views() -> dict[str, str]:
    """`events` (one row per eventId) and `plays` (the latest version of each play)."""
    return blocks("views.sql")


def with_views(sql: str) -> str:
    """`sql` with the lake's views in front of it as CTEs, so that `events` and `plays` mean the
    deduplicated data in either engine without a stored view (Athena would need Glue DDL rights)."""
    definitions = ",\n".join(f"{name} AS (\n{body}\n)" for name, body in views().items())
    query = sql.strip().rstrip(";")
    leading = _LEADING_WITH.match(query)
    if leading:  # the query's own CTEs follow the views (and may read them)
        return f"WITH {definitions},\n{query[leading.end() :]}"
    return f"WITH {definitions}\n{query}"


def daily_aggregates(day: date) -> dict[str, str]:
    """Each aggregate's query for one day (aggregate name -> SQL reading the views)."""
    rendered = {name: body.replace("{day}", day.isoformat()) for name, body in blocks("daily_aggregates.sql").items()}
    return {name: with_views(body) for name, body in rendered.items()}
