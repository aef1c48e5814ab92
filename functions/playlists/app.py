"""Playlists API (JWT): /playlists, /playlists/{id}/tracks, /playlists/{id}/collaborators, /me/playlists."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import PlaylistsSettings
from backbeat.errors import InvalidInput
from backbeat.http import caller_id, create_resolver
from backbeat.idempotency import IdempotencyKey, OnceOnly
from backbeat.identity.models import bind_users_table
from backbeat.observability import HTTP_API, count, lambda_entry, tracer
from backbeat.playlists import service
from backbeat.playlists.models import MAX_TRACKS, bind_playlists_table

settings = PlaylistsSettings()
bind_playlists_table(settings.playlists_table)
bind_catalog_table(settings.catalog_table)
bind_users_table(settings.users_table)
once = OnceOnly(settings.idempotency_table)
app = create_resolver()

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, StringConstraints(max_length=300)]
SongId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=254)]
Version = Annotated[int, Field(ge=0)]
Snapshot = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Position = Annotated[int, Field(ge=0, le=MAX_TRACKS)]


class Versioned(BaseModel):
    """Any write may name the version it was made against; it then gets 409 if the playlist moved on."""

    model_config = ConfigDict(extra="forbid")
    ifVersion: Version | None = None
    snapshotId: Snapshot | None = None


class NewPlaylist(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Description = ""
    isPublic: StrictBool = False
    isCollaborative: StrictBool = False


class PlaylistChanges(Versioned):
    name: Name | None = None
    description: Description | None = None
    isPublic: StrictBool | None = None
    isCollaborative: StrictBool | None = None


class AddTracks(Versioned):
    songId: SongId | None = None
    songIds: Annotated[list[SongId], Field(min_length=1, max_length=service.MAX_SONGS_PER_ADD)] | None = None
    position: Position | None = None


class ReorderTracks(Versioned):
    rangeStart: Position
    insertBefore: Position
    rangeLength: Annotated[int, Field(ge=1, le=service.MAX_MOVE_LENGTH)] = 1


class NewCollaborator(Versioned):
    email: Email


def _expected(playlist_id: str, body: Versioned) -> int | None:
    return service.expected_version(playlist_id, body.ifVersion, body.snapshotId)


def _created(body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=body)


@app.post("/playlists", status_code=201)
@tracer.capture_method
def create_playlist(body: NewPlaylist, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
    caller = caller_id(app)

    def create() -> dict[str, Any]:
        playlist = service.create_playlist(caller, body.name, body.description, body.isPublic, body.isCollaborative)
        count("PlaylistsCreated")
        return playlist

    return _created(once.run("createPlaylist", caller, idempotency_key, body.model_dump(), create))


@app.get("/playlists/<playlist_id>")
@tracer.capture_method
def get_playlist(
    playlist_id: str,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_TRACKS)] = 0,
) -> dict[str, Any]:
    return service.get_playlist(playlist_id, caller_id(app), limit=limit, offset=offset)


@app.patch("/playlists/<playlist_id>")
@tracer.capture_method
def update_playlist(playlist_id: str, body: PlaylistChanges) -> dict[str, Any]:
    details = body.model_dump(exclude_none=True, exclude={"ifVersion", "snapshotId"})
    if not details:
        raise InvalidInput("body: name, description, isPublic or isCollaborative is required", "body")
    return service.update_details(playlist_id, caller_id(app), details, _expected(playlist_id, body))


@app.delete("/playlists/<playlist_id>")
@tracer.capture_method
def delete_playlist(playlist_id: str, ifVersion: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
    return service.delete_playlist(playlist_id, caller_id(app), ifVersion)


@app.get("/me/playlists")
@tracer.capture_method
def my_playlists(
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_TRACKS)] = 0,
) -> dict[str, Any]:
    return service.my_playlists(caller_id(app), limit=limit, offset=offset)


@app.post("/playlists/<playlist_id>/tracks", status_code=201)
@tracer.capture_method
def add_tracks(playlist_id: str, body: AddTracks, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
    if (body.songId is None) == (body.songIds is None):
        raise InvalidInput("songId: give either songId or songIds", "songId")
    song_ids = body.songIds if body.songIds is not None else [str(body.songId)]
    caller = caller_id(app)

    def add() -> dict[str, Any]:
        result = service.add_tracks(playlist_id, caller, song_ids, body.position, _expected(playlist_id, body))
        count("PlaylistEdits")
        return result

    payload = {"playlistId": playlist_id, **body.model_dump()}
    return _created(once.run("addTracks", caller, idempotency_key, payload, add))


@app.delete("/playlists/<playlist_id>/tracks/<item_id>")
@tracer.capture_method
def remove_track(
    playlist_id: str, item_id: str, ifVersion: Annotated[int | None, Query(ge=0)] = None
) -> dict[str, Any]:
    count("PlaylistEdits")
    return service.remove_track(playlist_id, caller_id(app), item_id, ifVersion)


@app.put("/playlists/<playlist_id>/tracks")
@tracer.capture_method
def reorder_tracks(playlist_id: str, body: ReorderTracks) -> dict[str, Any]:
    count("PlaylistEdits")
    return service.move_tracks(
        playlist_id,
        caller_id(app),
        body.rangeStart,
        body.insertBefore,
        body.rangeLength,
        _expected(playlist_id, body),
    )


@app.post("/playlists/<playlist_id>/collaborators", status_code=201)
@tracer.capture_method
def add_collaborator(playlist_id: str, body: NewCollaborator) -> Response[dict[str, Any]]:
    return _created(service.add_collaborator(playlist_id, caller_id(app), body.email, _expected(playlist_id, body)))


@app.delete("/playlists/<playlist_id>/collaborators/<user_id>")
@tracer.capture_method
def remove_collaborator(
    playlist_id: str, user_id: str, ifVersion: Annotated[int | None, Query(ge=0)] = None
) -> dict[str, Any]:
    return service.remove_collaborator(playlist_id, caller_id(app), user_id, ifVersion)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    once.register(context)
    return app.resolve(event, context)
