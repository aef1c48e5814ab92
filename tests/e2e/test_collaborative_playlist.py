"""Two collaborators edit one private playlist at once over HTTP while both listen on the WebSocket
API: each sees every change, once, in version order, and the final playlist is what the changes
say. A stranger can neither read, edit nor subscribe; a bogus token opens no socket."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from backbeat_client.replay import apply, empty_state
from backbeat_ops.dataset import load_catalog
from tests.support import CATALOG_DIR, http, wait_for

pytestmark = pytest.mark.e2e
EDITS_EACH = 15


class Listener:
    """A socket that subscribes to one playlist and keeps every message it receives."""

    def __init__(self, ws_url: str, token: str) -> None:
        self._open = contextlib.ExitStack()
        self.socket = self._open.enter_context(connect(f"{ws_url}?token={token}", open_timeout=20))
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.socket:
                with self.lock:
                    self.messages.append(json.loads(raw))
        except Exception:
            pass

    def close(self) -> None:
        self._open.close()

    def send(self, message: dict[str, Any]) -> None:
        self.socket.send(json.dumps(message))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [message for message in self.messages if message["type"] == kind]

    def changes(self) -> list[dict[str, Any]]:
        """Every change received, in order: alone (`playlist.changed`) or several in one message."""
        with self.lock:
            return [
                change
                for message in self.messages
                if message["type"] in ("playlist.changed", "playlist.changes")
                for change in message.get("changes") or [message]
            ]


def signup(url: str) -> tuple[str, str]:
    email = f"collab-{uuid.uuid4().hex[:8]}@example.com"
    assert http("POST", f"{url}/auth/signup", {"email": email, "password": "a-long-password"})[0] == 201
    tokens = http("POST", f"{url}/auth/login", {"email": email, "password": "a-long-password"})[1]
    return email, tokens["accessToken"]


def test_two_collaborators_edit_at_once_and_see_every_change_in_order(devstack) -> None:
    url, ws_url = devstack.url, devstack.url.replace("http://", "ws://") + "/ws"
    songs = [song.id for song in load_catalog(CATALOG_DIR).songs[:200]]
    _, owner = signup(url)
    friend_email, friend = signup(url)
    _, stranger = signup(url)

    status, playlist, _ = http("POST", f"{url}/playlists", {"name": "Road trip", "isCollaborative": True}, token=owner)
    assert status == 201 and playlist["version"] == 0
    pid = playlist["id"]
    # An invitation, the same 202 for an address nobody has; the friend is a collaborator once they accept.
    assert http("POST", f"{url}/playlists/{pid}/collaborators", {"email": friend_email}, token=owner)[0] == 202
    assert http("POST", f"{url}/playlists/{pid}/collaborators", {"email": "no-one@example.com"}, token=owner)[0] == 202
    assert http("GET", f"{url}/me/playlists", token=friend)[1]["items"] == []
    invitations = http("GET", f"{url}/me/invitations", token=friend)[1]["items"]
    assert [(i["playlistId"], i["playlistName"]) for i in invitations] == [(pid, "Road trip")]
    accept = f"{url}/me/invitations/{invitations[0]['invitationId']}/accept"
    assert http("POST", accept, token=stranger)[0] == 404
    status, accepted, _ = http("POST", accept, token=friend)
    assert status == 200 and accepted["version"] == 1
    assert [p["id"] for p in http("GET", f"{url}/me/playlists", token=friend)[1]["items"]] == [pid]

    listeners = [Listener(ws_url, owner), Listener(ws_url, friend)]
    for listener in listeners:
        listener.send({"action": "subscribe", "playlistId": pid})
    for listener in listeners:
        wait_for(lambda listener=listener: listener.of_type("subscribed"))
        assert listener.of_type("subscribed")[0]["version"] == 1

    def edits(token: str, seed: int) -> list[int]:
        rng, statuses, mine = random.Random(seed), [], []
        for _ in range(EDITS_EACH):
            kind = rng.choice(["insert", "insert", "remove", "move"]) if mine else "insert"
            if kind == "insert":
                body = {"songId": rng.choice(songs), "position": 0 if rng.random() < 0.5 else None}
                status, answer, _ = http("POST", f"{url}/playlists/{pid}/tracks", body, token=token)
                if status == 201:
                    mine.append(answer["itemId"])
            elif kind == "remove":
                status = http("DELETE", f"{url}/playlists/{pid}/tracks/{mine.pop()}", token=token)[0]
            else:
                body = {"rangeStart": 0, "insertBefore": rng.randint(1, 2)}
                status = http("PUT", f"{url}/playlists/{pid}/tracks", body, token=token)[0]
            statuses.append(status)
        return statuses

    with ThreadPoolExecutor(2) as pool:
        statuses = [s for batch in pool.map(edits, (owner, friend), (1, 2)) for s in batch]
    assert all(status in (200, 201, 422) for status in statuses), statuses  # 422: a move past a shrunk list
    accepted = sum(1 for status in statuses if status < 300)

    final = http("GET", f"{url}/playlists/{pid}", token=friend)[1]
    assert final["version"] == 1 + accepted  # gapless: one version per accepted edit
    for listener in listeners:
        wait_for(lambda listener=listener: len(listener.changes()) >= accepted, timeout=30)
        assert [change["version"] for change in listener.changes()] == list(range(2, final["version"] + 1))

    # Replaying the change log (resync from the start) gives exactly the playlist GET answers.
    listeners[0].send({"action": "resync", "playlistId": pid, "fromVersion": 0})
    wait_for(lambda: listeners[0].of_type("resynced"))
    log = listeners[0].changes()[accepted:]
    state = empty_state()
    for change in log:
        state = apply(state, change["version"], change["op"])
    assert state["version"] == final["version"]
    assert state["items"] == final["tracks"]["items"]
    assert state["collaborators"] == final["collaborators"]

    # The stranger sees nothing, edits nothing, hears nothing.
    assert http("GET", f"{url}/playlists/{pid}", token=stranger)[0] == 404
    assert http("POST", f"{url}/playlists/{pid}/tracks", {"songId": songs[0]}, token=stranger)[0] == 404
    intruder = Listener(ws_url, stranger)
    intruder.send({"action": "subscribe", "playlistId": pid})
    wait_for(lambda: intruder.of_type("error"))
    assert intruder.of_type("error")[0]["code"] == "NotFound" and not intruder.of_type("subscribed")
    for listener in (*listeners, intruder):
        listener.close()


def test_a_bogus_or_missing_token_opens_no_socket(devstack) -> None:
    ws_url = devstack.url.replace("http://", "ws://") + "/ws"
    for query in ("?token=bogus", "?token=a.b.c", ""):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url + query, open_timeout=20)
        assert refused.value.response.status_code == 401


def test_a_gone_connection_is_forgotten_by_the_fan_out(devstack) -> None:
    """A subscription whose socket is gone (no $disconnect seen) is removed at the next change."""
    url, state = devstack.url, devstack.state
    _, owner = signup(url)
    pid = http("POST", f"{url}/playlists", {"name": "Gone"}, token=owner)[1]["id"]
    session = boto3.Session(
        aws_access_key_id=state["environment"]["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=state["environment"]["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=state["environment"]["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )
    table = session.resource("dynamodb", endpoint_url=state["environment"]["AWS_ENDPOINT_URL"]).Table(
        state["outputs"]["ConnectionsTableName"]
    )
    key = {"pk": f"PL#{pid}", "sk": "CONN#gone0000000000"}
    table.put_item(
        Item={
            **key,
            "connectionId": "gone0000000000",
            "playlistId": pid,
            "userId": "x",
            "sinceVersion": 0,
            "expiresAt": 1,
        }
    )
    song = load_catalog(CATALOG_DIR).songs[0].id
    assert http("POST", f"{url}/playlists/{pid}/tracks", {"songId": song}, token=owner)[0] == 201
    wait_for(lambda: "Item" not in table.get_item(Key=key, ConsistentRead=True), timeout=30)
