"""Replay the change log: the state a playlist reaches by applying its changes in version order.

Clients keep a playlist current from the WebSocket messages with the same rules; tests and the
benchmark check that replaying the log gives exactly what `GET /playlists/{id}` answers.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

DETAIL_FIELDS = ("name", "description", "isPublic", "isCollaborative")


def empty_state() -> dict[str, Any]:
    return {"version": -1, "items": [], "collaborators": [], "deleted": False}


def apply(state: dict[str, Any], version: int, op: dict[str, Any]) -> dict[str, Any]:
    """The state after change `version`; raises ValueError when a version is skipped or repeated."""
    if version != state["version"] + 1:
        raise ValueError(f"change {version} does not follow {state['version']}")
    state = deepcopy(state)
    state["version"] = version
    kind = op["type"]
    items: list[dict[str, Any]] = state["items"]
    if kind == "playlist.created":
        state.update({key: op[key] for key in (*DETAIL_FIELDS, "ownerId")})
    elif kind == "details.updated":
        state.update(op["changes"])
    elif kind == "tracks.added":
        items[op["position"] : op["position"]] = op["items"]
    elif kind == "tracks.removed":
        gone = set(op["itemIds"])
        state["items"] = [item for item in items if item["itemId"] not in gone]
    elif kind == "tracks.moved":
        start, before, length = op["rangeStart"], op["insertBefore"], op["rangeLength"]
        moving = items[start : start + length]
        rest = items[:start] + items[start + length :]
        at = before - length if before > start else before
        state["items"] = rest[:at] + moving + rest[at:]
    elif kind == "collaborator.added":
        state["collaborators"].append(op["userId"])
    elif kind == "collaborator.removed":
        state["collaborators"].remove(op["userId"])
    elif kind == "playlist.deleted":
        state["deleted"] = True
    else:
        raise ValueError(f"unknown change type {kind!r}")
    return state


def replay(changes: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    state = empty_state()
    for version, op in changes:
        state = apply(state, version, op)
    return state
