"""Glue column types (Hive DDL: ``bigint``, ``array<string>``, ``struct<type:string,id:string>``)
parsed into a small tree, so the local engine and the devstack's Firehose can give the Parquet the
schema the Glue table declares, as Firehose's format conversion and Athena do."""

from __future__ import annotations

from dataclasses import dataclass

PRIMITIVES = frozenset(
    {"string", "varchar", "char", "bigint", "int", "integer", "smallint", "tinyint", "double", "float"}
    | {"boolean", "timestamp", "date", "binary", "decimal"}
)


@dataclass(frozen=True)
class GlueType:
    """`kind` is a primitive name, ``array`` (one item type) or ``struct`` (named fields)."""

    kind: str
    items: GlueType | None = None
    fields: tuple[tuple[str, GlueType], ...] = ()


def parse_glue_type(text: str) -> GlueType:
    parsed, rest = _parse(text.replace(" ", "").lower())
    if rest:
        raise ValueError(f"unexpected {rest!r} after a Glue type in {text!r}")
    return parsed


def _parse(text: str) -> tuple[GlueType, str]:
    if text.startswith("array<"):
        items, rest = _parse(text[len("array<") :])
        if not rest.startswith(">"):
            raise ValueError(f"array type not closed: {text!r}")
        return GlueType("array", items=items), rest[1:]
    if text.startswith("struct<"):
        rest = text[len("struct<") :]
        fields: list[tuple[str, GlueType]] = []
        while True:
            name, _, rest = rest.partition(":")
            field_type, rest = _parse(rest)
            fields.append((name, field_type))
            if rest.startswith(","):
                rest = rest[1:]
                continue
            if rest.startswith(">"):
                return GlueType("struct", fields=tuple(fields)), rest[1:]
            raise ValueError(f"struct type not closed: {text!r}")
    end = len(text)
    for stop in ",>":
        position = text.find(stop)
        if position != -1:
            end = min(end, position)
    name = text[:end]
    base = name.split("(", 1)[0]
    if base not in PRIMITIVES:
        raise ValueError(f"unsupported Glue type {name!r}")
    return GlueType(name), text[end:]


_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
}


def duckdb_type(glue: GlueType) -> str:
    if glue.kind == "array":
        assert glue.items is not None
        return f"{duckdb_type(glue.items)}[]"
    if glue.kind == "struct":
        return "STRUCT(" + ", ".join(f'"{name}" {duckdb_type(kind)}' for name, kind in glue.fields) + ")"
    if glue.kind.startswith("decimal"):
        return glue.kind.upper()
    return _DUCKDB[glue.kind.split("(", 1)[0]]
