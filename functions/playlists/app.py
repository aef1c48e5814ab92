"""Playlists API (JWT): /playlists, /playlists/{id}/tracks, /playlists/{id}/collaborators, /me/playlists,
/me/invitations."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

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

# Text a listener sees: no control characters (a NUL or an escape sequence in a name is never meant),
# no lone surrogates (they cannot be stored as UTF-8); a description may keep line breaks and tabs.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(service.printable_text),
]
Description = Annotated[str, StringConstraints(max_length=300), AfterValidator(service.printable_text_with_lines)]
SongId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$",
    ),
]
# Strict: JSON `true` is not the number 1, nor "3" the number 3.
Version = Annotated[StrictInt, Field(ge=0)]
Snapshot = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Position = Annotated[StrictInt, Field(ge=0, le=MAX_TRACKS)]


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
    rangeLength: Annotated[StrictInt, Field(ge=1, le=service.MAX_MOVE_LENGTH)] = 1


class Invitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
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
    playlist_id: str,
    item_id: str,
    ifVersion: Annotated[int | None, Query(ge=0)] = None,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    caller = caller_id(app)

    def remove() -> dict[str, Any]:
        result = service.remove_track(playlist_id, caller, item_id, ifVersion)
        count("PlaylistEdits")
        return result

    payload = {"playlistId": playlist_id, "itemId": item_id, "ifVersion": ifVersion}
    return once.run("removeTrack", caller, idempotency_key, payload, remove)


@app.put("/playlists/<playlist_id>/tracks")
@tracer.capture_method
def reorder_tracks(playlist_id: str, body: ReorderTracks, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
    caller = caller_id(app)

    def move() -> dict[str, Any]:
        result = service.move_tracks(
            playlist_id, caller, body.rangeStart, body.insertBefore, body.rangeLength, _expected(playlist_id, body)
        )
        count("PlaylistEdits")
        return result

    payload = {"playlistId": playlist_id, **body.model_dump()}
    return once.run("moveTracks", caller, idempotency_key, payload, move)


@app.post("/playlists/<playlist_id>/collaborators", status_code=202)
@tracer.capture_method
def invite_collaborator(playlist_id: str, body: Invitation) -> Response[dict[str, Any]]:
    """Invite an email address to collaborate; the same 202 whether or not an account has it."""
    result = service.invite(playlist_id, caller_id(app), body.email)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=result)


@app.get("/me/invitations")
@tracer.capture_method
def my_invitations() -> dict[str, Any]:
    return service.my_invitations(caller_id(app))


@app.post("/me/invitations/<invitation_id>/accept")
@tracer.capture_method
def accept_invitation(invitation_id: str) -> dict[str, Any]:
    return service.accept(caller_id(app), invitation_id)


@app.post("/me/invitations/<invitation_id>/decline")
@tracer.capture_method
def decline_invitation(invitation_id: str) -> dict[str, Any]:
    return service.decline(caller_id(app), invitation_id)


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
