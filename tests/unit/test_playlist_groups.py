"""Group commit of track edits (decision 51): queued edits applied several to a transaction, each with
its own version, log entry and answer; one bad edit fails alone; a dead lease holder is replaced;
an editor out of time withdraws its edit; the fan-out posts every version of a group in order."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from backbeat.errors import Conflict
from backbeat.playlists import groups, service
from backbeat.playlists.models import QUEUE_PREFIX, TURN, PlaylistItem, QueuedEdit, TurnItem, playlist_key
from backbeat.playlists.views import changes
from backbeat.realtime import service as realtime_service
from backbeat_client.replay import replay
from devstack.moto_patches import patch_moto_dynamodb_isolation
from tests.unit.test_playlists import OWNER, SONGS, add_concurrently, call, new_playlist, playlists  # noqa: F401


def queue(pid: str, kind: str, args: dict[str, Any], by: str = OWNER, seconds_ago: float = 0, **state: Any) -> str:
    """An edit queued the way `groups.submit` queues one, by an editor that is still waiting (or, with
    `seconds_ago`, one queued that long ago)."""
    sk = f"{QUEUE_PREFIX}{int((time.time() - seconds_ago) * 1000):013d}#{uuid.uuid4().hex}"
    fields = {"state": "queued", **state}
    QueuedEdit(pk=playlist_key(pid), sk=sk, request={"kind": kind, "args": args}, by=by, **fields).save()
    return sk


def raw_playlist(aws: Any, pid: str) -> dict[str, Any]:
    table = aws.tables["PlaylistsTable"]
    key = {"pk": {"S": playlist_key(pid)}, "sk": {"S": "META"}}
    return dict(boto3.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])


def test_queued_edits_commit_together_each_with_its_version_and_a_bad_one_fails_alone(
    aws,
    playlists,  # noqa: F811
    context,
) -> None:
    pid = new_playlist(playlists, context)
    assert call(playlists, context, "POST", f"/playlists/{pid}/tracks", OWNER, {"songIds": SONGS[:3]})[0] == 201
    before = raw_playlist(aws, pid)
    first = queue(pid, "add", {"playlistId": pid, "userId": OWNER, "songIds": [SONGS[3]], "position": 0})
    bad = queue(pid, "add", {"playlistId": pid, "userId": OWNER, "songIds": [SONGS[4]], "position": 99})
    moved = queue(pid, "move", {"rangeStart": 0, "insertBefore": 4, "rangeLength": 1})
    # this editor takes the free lease and applies the whole queue, its own edit last
    mine = service.add_tracks(pid, OWNER, [SONGS[5]], 1, None)
    assert mine["version"] == 4  # 1 was the first add; 2 and 3 the queued ones; the bad one has none
    answers = {
        item.sk: item.answer for item in QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX))
    }
    assert answers[first]["ok"]["version"] == 2 and answers[moved]["ok"]["version"] == 3
    assert answers[bad]["error"]["code"] == "InvalidInput" and answers[bad]["error"]["field"] == "position"
    assert len(answers) == 3  # the applier's own queued item is gone; the others wait for their editors
    log = changes(pid, 0, 10)
    assert [c["version"] for c in log] == [0, 1, 2, 3, 4]
    assert [c["op"]["type"] for c in log[2:]] == ["tracks.added", "tracks.moved", "tracks.added"]
    final = service.get_playlist(pid, OWNER, limit=100, offset=0)
    assert final["version"] == 4 and final["tracks"]["total"] == 5
    replayed = replay([(c["version"], c["op"]) for c in log])
    assert [i["itemId"] for i in replayed["items"]] == [i["itemId"] for i in final["tracks"]["items"]]
    turn = TurnItem.get(playlist_key(pid), TURN, consistent_read=True)
    assert turn.holder is None  # the lease went back in the same transaction
    # one stream record for the group: the fan-out posts versions 2, 3 and 4 in order
    record = {"eventName": "MODIFY", "dynamodb": {"OldImage": before, "NewImage": raw_playlist(aws, pid)}}
    _, message, old, new = realtime_service._change_of(record)  # type: ignore[misc]
    messages = realtime_service._messages_of(message, old, new)
    assert [m["version"] for m in messages] == [2, 3, 4]
    assert [m["op"]["type"] for m in messages] == ["tracks.added", "tracks.moved", "tracks.added"]


def test_edits_left_by_crashed_editors_are_collected_and_never_applied(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    old = groups.ORPHAN_SECONDS + 5

    def adding(song: str) -> dict[str, Any]:
        return {"playlistId": pid, "userId": OWNER, "songIds": [song], "position": None}

    # more unanswered orphans than one group deletes, and an answered one nobody collected
    unanswered = [queue(pid, "add", adding(SONGS[1]), seconds_ago=old) for _ in range(groups.MAX_ORPHANS + 2)]
    answered = queue(pid, "add", adding(SONGS[3]), seconds_ago=old, state="done", answer={"ok": {"version": 9}})
    waiting = queue(pid, "add", adding(SONGS[2]))  # an editor still waits for this one

    def queued() -> set[str]:
        return {item.sk for item in QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX))}

    mine = service.add_tracks(pid, OWNER, [SONGS[0]], None, None)
    assert len(queued() - {waiting}) == 3  # ten orphans deleted with the group; the others wait for the next
    assert waiting in queued()  # applied, and left for its editor to read
    final = service.get_playlist(pid, OWNER, limit=100, offset=0)
    assert [item["songId"] for item in final["tracks"]["items"]] == [SONGS[2], SONGS[0]]  # no orphan applied
    assert final["version"] == mine["version"] == 2
    service.add_tracks(pid, OWNER, [SONGS[4]], None, None)  # the next group collects the rest
    assert queued() == {waiting} and not (set(unanswered) | {answered}) & queued()
    assert [i["songId"] for i in service.get_playlist(pid, OWNER, limit=100, offset=0)["tracks"]["items"]] == [
        SONGS[2],
        SONGS[0],
        SONGS[4],
    ]


def test_an_editor_answered_by_another_holder_reads_its_answer(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    waiting: dict[str, Any] = {}
    holder = groups.try_lease(pid, "someone-else")
    assert holder is not None

    def editor() -> None:
        waiting["answer"] = service.add_tracks(pid, OWNER, [SONGS[0]], None, None)

    thread = threading.Thread(target=editor)
    thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(
        QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX), consistent_read=True)
    ):
        time.sleep(0.01)
    queued = list(QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX), consistent_read=True))
    assert len(queued) == 1
    # the holder applies the queue (its own edit among it) and hands the lease back
    own = queue(pid, "remove", {"itemIds": ["0" * 22]})
    answer = groups._apply_until_done(pid, own, holder, time.monotonic() + 60)
    assert answer is not None and answer["error"]["code"] == "NotFound"  # a bad edit fails alone
    thread.join(30)
    assert waiting["answer"]["version"] == 1 and waiting["answer"]["itemId"]
    assert list(QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX))) == []  # all collected


def test_concurrent_editors_group_commit_gapless_with_no_lost_edit(playlists, context, monkeypatch) -> None:  # noqa: F811
    patch_moto_dynamodb_isolation()
    pid = new_playlist(playlists, context)
    editors, per_editor = 6, 4
    results, failures = add_concurrently(pid, editors, per_editor)
    assert failures == []
    assert sorted(result["version"] for result in results) == list(range(1, editors * per_editor + 1))
    log = {change["version"]: change["op"] for change in changes(pid, 1, 100)}
    assert all(log[result["version"]]["items"][0]["itemId"] == result["itemId"] for result in results)
    final = service.get_playlist(pid, OWNER, limit=100, offset=0)
    assert [i["itemId"] for i in replay([(c["version"], c["op"]) for c in changes(pid, 0, 100)])["items"]] == [
        i["itemId"] for i in final["tracks"]["items"]
    ]
    assert list(QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX))) == []
    assert TurnItem.get(playlist_key(pid), TURN, consistent_read=True).holder is None


def test_a_dead_holder_loses_the_lease_and_an_editor_out_of_time_withdraws(playlists, context, monkeypatch) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    monkeypatch.setattr(groups, "LEASE_SECONDS", 0.3)
    assert groups.try_lease(pid, "crashed") is not None  # taken and never handed back
    assert service.add_tracks(pid, OWNER, [SONGS[0]], None, None)["version"] == 1  # after the lease ran out

    monkeypatch.setattr(groups, "LEASE_SECONDS", 300.0)
    assert groups.try_lease(pid, "stuck") is not None
    with pytest.raises(Conflict):
        groups.submit(
            pid,
            OWNER,
            None,
            "add",
            {"playlistId": pid, "userId": OWNER, "songIds": [SONGS[1]], "position": None},
            time.monotonic() + 0.3,
        )
    assert list(QueuedEdit.query(playlist_key(pid), QueuedEdit.sk.startswith(QUEUE_PREFIX))) == []  # withdrawn
    assert int(PlaylistItem.get(playlist_key(pid), "META", consistent_read=True).version) == 1  # nothing written


def test_a_group_plans_from_what_it_reads_of_the_order_exactly_as_from_the_whole_order(
    playlists,  # noqa: F811
    context,
    monkeypatch,
) -> None:
    """Random groups of inserts, appends, removals (some of an item an earlier edit removed) and moves,
    planned against the order read as the edits need it and against the whole order read first: the
    same answers, the same writes. And an append reads only the end of a long playlist."""
    import random

    from backbeat.errors import BackbeatError
    from backbeat.playlists import tracks
    from backbeat.playlists.models import PlaylistItem
    from backbeat.playlists.views import ordered

    pid = new_playlist(playlists, context)
    for _ in range(8):
        service.add_tracks(pid, OWNER, SONGS, None, None)
    playlist = PlaylistItem.get(playlist_key(pid), "META", consistent_read=True)
    whole = [(item.sk, item.pos) for item in ordered(pid, None, keys_only=True)]
    assert len(whole) == 64
    ids = iter(range(10**6))
    monkeypatch.setattr(service, "new_id", lambda: f"{next(ids):022d}")
    monkeypatch.setattr(service, "now", lambda: "2026-12-04T09:00:00.000Z")

    def plan(order: Any, edits: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        seen = PlaylistItem(**playlist.attribute_values)
        outcomes: list[Any] = []
        for kind, args in edits:
            try:
                built = groups.builders[kind](args)[1](seen, order)
            except BackbeatError as error:
                outcomes.append(("error", error.code, error.message))
                continue
            trial = order.copy()
            trial.apply(built.tracks)
            order = trial
            seen.track_count = int(seen.track_count) + built.track_delta
            outcomes.append(("ok", built.op, built.result))
        net = order.net()
        return [*outcomes, ([item.attribute_values for item in net.puts], net.rekeys, net.deletes)]

    rng = random.Random(7)
    for _ in range(40):
        current = list(whole)
        edits: list[tuple[str, dict[str, Any]]] = []
        for _ in range(rng.randint(1, 8)):
            kind = rng.choice(["insert", "append", "remove", "remove-again", "move", "past-the-end"])
            size = len(current)
            if kind in ("insert", "append", "past-the-end"):
                position = {"insert": rng.randint(0, size), "append": None, "past-the-end": size + 1}[kind]
                args = {"playlistId": pid, "userId": OWNER, "songIds": rng.sample(SONGS, rng.randint(1, 3))}
                edits.append(("add", {**args, "position": position}))
                current += [("new", "~")] * len(args["songIds"]) if kind != "past-the-end" else []
            elif kind.startswith("remove"):
                victim = rng.choice(whole)[0] if kind == "remove-again" else rng.choice(current)[0]
                edits.append(("remove", {"itemIds": [victim.removeprefix("ITEM#")]}))
                current = [entry for entry in current if entry[0] != victim]
            else:
                start = rng.randrange(size)
                length = rng.randint(1, min(3, size - start))
                before = rng.choice([i for i in range(size + 1) if not start < i < start + length])
                edits.append(("move", {"rangeStart": start, "insertBefore": before, "rangeLength": length}))
        ids = iter(range(10**6))
        lazily = plan(tracks.OrderInMemory.read(pid), edits)
        ids = iter(range(10**6))
        assert plan(tracks.OrderInMemory.of(whole), edits) == lazily, edits

    read: list[int] = []
    original = tracks.ordered

    def from_the_end_only(playlist_id: str, limit: int | None = None, **options: Any) -> Any:
        if not options.get("backward"):
            pytest.fail("the order was read from its start")
        read.append(len(found := original(playlist_id, limit, **options)))
        return found

    monkeypatch.setattr(tracks, "ordered", from_the_end_only)
    appended = plan(
        tracks.OrderInMemory.read(pid),
        [("add", {"playlistId": pid, "userId": OWNER, "songIds": [SONGS[0]], "position": None})] * 3,
    )
    assert [outcome[0] for outcome in appended[:3]] == ["ok"] * 3 and max(read) < 64


@pytest.mark.parametrize("near", ["start", "end"])
def test_an_edit_that_respaces_keys_plans_the_same_from_what_it_reads(
    playlists,  # noqa: F811
    context,
    monkeypatch,
    near: str,
) -> None:
    """Where two neighbours' keys have grown too long, an insertion between them re-keys up to
    `RESPACE_WINDOW` neighbours on each side: planned from the part of a 64-track playlist's order
    it reads, near its start or its end, it gives the same keys and re-keys as against the whole."""
    from backbeat.playlists import tracks
    from backbeat.playlists.models import PlaylistItem, TrackItem
    from backbeat.playlists.ordering import key_between
    from backbeat.playlists.views import ordered

    pid = new_playlist(playlists, context)
    for _ in range(8):
        service.add_tracks(pid, OWNER, SONGS, None, None)
    items = ordered(pid, None)
    at = 12 if near == "start" else 52
    crowded = key_between(items[at - 2].pos, items[at + 1].pos)
    for item, pos in ((items[at - 1], crowded + "1" * 95), (items[at], crowded + "1" * 95 + "5")):
        TrackItem(**{**item.attribute_values, "pos": pos}).save()
    whole = [(item.sk, item.pos) for item in ordered(pid, None, keys_only=True)]
    playlist = PlaylistItem.get(playlist_key(pid), "META", consistent_read=True)
    monkeypatch.setattr(service, "now", lambda: "2026-12-04T09:00:00.000Z")
    edits = [
        ("add", {"playlistId": pid, "userId": OWNER, "songIds": [SONGS[0]], "position": at}),
        ("move", {"rangeStart": at - 3, "insertBefore": at + 2, "rangeLength": 2}),
    ]

    def plan(order: Any) -> Any:
        ids = iter(range(10**6))
        monkeypatch.setattr(service, "new_id", lambda: f"{next(ids):022d}")
        seen = PlaylistItem(**playlist.attribute_values)
        for kind, args in edits:
            built = groups.builders[kind](args)[1](seen, order)
            order.apply(built.tracks)
            seen.track_count = int(seen.track_count) + built.track_delta
        net = order.net()
        return [item.attribute_values for item in net.puts], net.rekeys, net.deletes

    lazily = plan(tracks.OrderInMemory.read(pid))
    assert lazily == plan(tracks.OrderInMemory.of(whole))
    assert len(lazily[1]) > 10  # the neighbours were re-keyed
