"""Artist accounts and analytics in-process: an operator links a user to an artist; the linked
account and operators read the artist's daily figures (from the lake's daily aggregates), estimated
revenue (the last run's per-stream rates), playlist additions (the change log) and statements (with
download links); everyone else gets 403 on every route; bad ranges are 422s naming the field."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from backbeat.analytics.engines import QueryResult
from backbeat.aws import client
from backbeat.catalog.models import ArtistItem, artist_id_for, artist_key, bind_catalog_table, new_song
from backbeat.identity import service
from backbeat.identity.models import UserItem, bind_users_table
from backbeat.ids import base62_id
from backbeat.playlists.models import ChangeItem, bind_playlists_table, log_key, playlist_key
from backbeat.royalties import analytics, artists
from backbeat_ops.cli import main
from devstack.resources import Deployment
from tests.support import api_event
from tests.unit.conftest import load_function

ARTIST = artist_id_for("The Analytics Band")
OTHER_ARTIST = artist_id_for("Somebody Else")
HIT, DEEP_CUT = base62_id("song", "hit"), base62_id("song", "deep cut")
FAN, STRANGER, OPERATOR = "user-fan", "user-stranger", "user-operator"
OPERATOR_CLAIMS = {"sub": OPERATOR, "cognito:groups": "[operators]"}  # as the HTTP API's authorizer flattens it
ROUTES = ("analytics", "statements")
RANGE = {"from": "2026-11-01", "to": "2026-11-03"}

# daily_artist rows: (day, country, deviceType, tier, plays, billablePlays, listeners)
ARTIST_ROWS = [
    ("2026-11-01", "all", "all", "all", 5, 4, 3),
    ("2026-11-01", "SE", "web", "premium", 3, 3, 2),
    ("2026-11-01", "US", "ios", "free", 2, 1, 1),
    ("2026-11-03", "all", "all", "all", 4, 2, 2),
    ("2026-11-03", "SE", "ios", "premium", 1, 1, 1),
    ("2026-11-03", "DE", "web", "free", 3, 1, 1),
    ("2026-10-31", "all", "all", "all", 100, 100, 50),  # outside the range
]
# daily_song total rows: (day, songId, plays, billablePlays)
SONG_ROWS = [
    ("2026-11-01", HIT, 4, 3),
    ("2026-11-01", DEEP_CUT, 1, 1),
    ("2026-11-03", HIT, 1, 1),
    ("2026-11-03", DEEP_CUT, 3, 1),
]


def _upload_parquet(tmp_path: Path, bucket: str, key: str, select: str) -> None:
    local = tmp_path / key.replace("/", "_")
    duckdb.sql(f"COPY ({select}) TO '{local}' (FORMAT PARQUET)")
    client("s3").upload_file(str(local), bucket, key)


def _write_aggregates(aws: Deployment, tmp_path: Path) -> None:
    bucket = aws.ref("LakeBucket")
    for day in sorted({row[0] for row in ARTIST_ROWS}):
        values = ", ".join(
            f"('{ARTIST}', '{country}', '{device}', '{tier}', {plays}, {billable}, {listeners})"
            for d, country, device, tier, plays, billable, listeners in ARTIST_ROWS
            if d == day
        )
        select = (
            "SELECT * FROM (VALUES "
            + values
            + ") AS t(artistid, country, devicetype, tier, plays, billableplays, listeners)"
        )
        _upload_parquet(tmp_path, bucket, f"aggregates/daily_artist/dt={day}/part-00000.parquet", select)
    for day in sorted({row[0] for row in SONG_ROWS}):
        values = ", ".join(
            f"('{song}', '{ARTIST}', 'all', 'all', 'all', {plays}, {billable})"
            for d, song, plays, billable in SONG_ROWS
            if d == day
        )
        select = (
            "SELECT * FROM (VALUES "
            + values
            + ") AS t(songid, artistid, country, devicetype, tier, plays, billableplays)"
        )
        _upload_parquet(tmp_path, bucket, f"aggregates/daily_song/dt={day}/part-00000.parquet", select)


def _write_royalties(aws: Deployment) -> None:
    table = client("dynamodb")
    name = aws.tables["RoyaltiesTable"]
    for tier, rate in (("premium", "0.0040"), ("free", "0.0010")):
        table.put_item(
            TableName=name,
            Item={
                "pk": {"S": "RUN#2026-10#pro-rata"},
                "sk": {"S": f"TIER#{tier}"},
                "perStreamRate": {"S": rate},
                "provisional": {"BOOL": False},
            },
        )
    for month, amount in (("2026-09", "1.50"), ("2026-10", "12.34")):
        key = f"statements/{month}/pro-rata/{ARTIST}.csv"
        client("s3").put_object(Bucket=aws.ref("RoyaltiesBucket"), Key=key, Body=b"song,plays\n")
        table.put_item(
            TableName=name,
            Item={
                "pk": {"S": f"HOLDER#{ARTIST}"},
                "sk": {"S": f"STATEMENT#{month}#pro-rata"},
                "holderId": {"S": ARTIST},
                "month": {"S": month},
                "model": {"S": "pro-rata"},
                "provisional": {"BOOL": False},
                "amount": {"S": amount},
                "currency": {"S": "USD"},
                "bucket": {"S": aws.ref("RoyaltiesBucket")},
                "key": {"S": key},
                "lines": {"N": "2"},
                "createdAt": {"S": f"{month}-28T03:00:00.000Z"},
            },
        )


def _write_playlist_log() -> None:
    def added(version: int, at: str, songs: list[str]) -> None:
        items = [{"itemId": f"i{version}{n}", "songId": s, "addedBy": FAN, "addedAt": at} for n, s in enumerate(songs)]
        ChangeItem(
            pk=playlist_key("pl1"),
            sk=log_key(version),
            version=version,
            op={"type": "tracks.added", "items": items},
            by=FAN,
            at=at,
        ).save()

    added(1, "2026-11-01T10:00:00.000Z", [HIT, DEEP_CUT, base62_id("song", "not theirs")])
    added(2, "2026-11-03T23:59:59.999Z", [HIT])
    added(3, "2026-11-04T00:00:00.000Z", [HIT])  # the day after the range
    ChangeItem(
        pk=playlist_key("pl1"),
        sk=log_key(4),
        version=4,
        op={"type": "tracks.removed", "itemIds": ["i20"]},
        by=FAN,
        at="2026-11-02T00:00:00.000Z",
    ).save()


@pytest.fixture
def stack(aws: Deployment, tmp_path: Path) -> Deployment:
    bind_catalog_table(aws.tables["CatalogTable"])
    bind_users_table(aws.tables["UsersTable"])
    bind_playlists_table(aws.tables["PlaylistsTable"])
    artists.bind_artist_accounts_table(aws.tables["ArtistAccountsTable"])
    for artist_id, name in ((ARTIST, "The Analytics Band"), (OTHER_ARTIST, "Somebody Else")):
        ArtistItem(pk=artist_key(artist_id), entity="artist", id=artist_id, name=name, song_count=2).save()
    for song_id, title in ((HIT, "The Hit"), (DEEP_CUT, "Deep Cut")):
        new_song(
            song_id,
            title=title,
            artist_id=ARTIST,
            artist_name="The Analytics Band",
            album_id=base62_id("album", "a"),
            album_title="A",
            album_type="album",
            duration_ms=200_000,
        ).save()
    for user_id in (FAN, STRANGER, OPERATOR):
        UserItem(user_id=user_id, email=f"{user_id}@example.com").save()
    _write_aggregates(aws, tmp_path)
    _write_royalties(aws)
    _write_playlist_log()
    return aws


def _get(
    module: Any, context: Any, path: str, claims: dict[str, str] | None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    event = api_event("GET", path, query=query, claims=claims)
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_the_linked_account_reads_its_artist_s_figures(stack: Deployment, context: Any) -> None:
    linked = artists.link(f"{FAN}@example.com", ARTIST)
    assert (linked["userId"], linked["artistName"], linked["created"]) == (FAN, "The Analytics Band", True)
    module = load_function("artist_analytics", stack)
    status, body = _get(module, context, f"/artists/{ARTIST}/analytics", {"sub": FAN}, RANGE)
    assert status == 200, body
    assert (body["artistId"], body["name"], body["from"], body["to"]) == (ARTIST, "The Analytics Band", *RANGE.values())
    assert [
        (d["day"], d["plays"], d["billablePlays"], d["listeners"], d["playlistAdditions"]) for d in body["daily"]
    ] == [
        ("2026-11-01", 5, 4, 3, 2),
        ("2026-11-02", 0, 0, 0, 0),
        ("2026-11-03", 4, 2, 2, 1),
    ]
    assert body["totals"] == {"plays": 9, "billablePlays": 6, "peakDailyListeners": 3, "playlistAdditions": 3}
    assert body["countries"] == [
        {"country": "SE", "plays": 4, "billablePlays": 4},
        {"country": "DE", "plays": 3, "billablePlays": 1},
        {"country": "US", "plays": 2, "billablePlays": 1},
    ]
    assert body["deviceTypes"] == [
        {"deviceType": "web", "plays": 6, "billablePlays": 4},
        {"deviceType": "ios", "plays": 3, "billablePlays": 2},
    ]
    assert body["tiers"] == [
        {"tier": "free", "plays": 5, "billablePlays": 2},
        {"tier": "premium", "plays": 4, "billablePlays": 4},
    ]
    assert body["topSongs"] == [
        {"songId": HIT, "title": "The Hit", "plays": 5, "billablePlays": 4},
        {"songId": DEEP_CUT, "title": "Deep Cut", "plays": 4, "billablePlays": 2},
    ]
    # 4 premium plays x 0.0040 + 2 free plays x 0.0010, priced at October's pro-rata rates
    revenue = body["estimatedRevenue"]
    assert (revenue["amount"], revenue["currency"]) == ("0.02", "USD")
    assert revenue["basis"] == {"month": "2026-10", "model": "pro-rata", "provisional": False}
    assert {(t["tier"], t["perStreamRate"], t["amount"]) for t in revenue["byTier"]} == {
        ("premium", "0.0040", "0.02"),
        ("free", "0.0010", "0.00"),
    }
    assert (body["lastStatement"]["month"], body["lastStatement"]["amount"]) == ("2026-10", "12.34")
    # an artist without plays or statements reads zeros, not errors
    status, body = _get(module, context, f"/artists/{OTHER_ARTIST}/analytics", OPERATOR_CLAIMS, RANGE)
    assert status == 200, body
    assert body["totals"] == {"plays": 0, "billablePlays": 0, "peakDailyListeners": 0, "playlistAdditions": 0}
    assert body["topSongs"] == [] and body["countries"] == [] and body["lastStatement"] is None
    assert body["estimatedRevenue"]["byTier"] == [] and body["estimatedRevenue"]["amount"] == "0.00"
    status, body = _get(module, context, f"/artists/{OTHER_ARTIST}/statements", OPERATOR_CLAIMS)
    assert (status, body["items"], body["total"]) == (200, [], 0)


def test_statements_newest_first_with_download_links(stack: Deployment, context: Any) -> None:
    artists.link(f"{FAN}@example.com", ARTIST)
    module = load_function("artist_analytics", stack)
    status, body = _get(module, context, f"/artists/{ARTIST}/statements", {"sub": FAN})
    assert status == 200, body
    assert [(s["month"], s["amount"], s["currency"], s["lines"]) for s in body["items"]] == [
        ("2026-10", "12.34", "USD", 2),
        ("2026-09", "1.50", "USD", 2),
    ]
    link = body["items"][0]["downloadUrl"]
    assert f"statements/2026-10/pro-rata/{ARTIST}.csv" in link and stack.ref("RoyaltiesBucket") in link
    assert "X-Amz-Expires=900" in link and "X-Amz-Signature=" in link


def test_everyone_but_the_linked_account_and_operators_gets_403_on_every_route(stack: Deployment, context: Any) -> None:
    artists.link(f"{FAN}@example.com", ARTIST)
    module = load_function("artist_analytics", stack)
    unknown = artist_id_for("Nobody At All")
    for route in ROUTES:
        path = f"/artists/{ARTIST}/{route}"
        assert _get(module, context, path, {"sub": FAN}, RANGE)[0] == 200, route
        assert _get(module, context, path, OPERATOR_CLAIMS, RANGE)[0] == 200, route
        status, body = _get(module, context, path, {"sub": STRANGER}, RANGE)
        assert (status, body["error"]["code"]) == (403, "Forbidden"), route
        # a group that merely contains the word is not the operators group
        assert _get(module, context, path, {"sub": STRANGER, "cognito:groups": "[not-operators]"}, RANGE)[0] == 403
        # the fan is linked to one artist, not to every artist
        assert _get(module, context, f"/artists/{OTHER_ARTIST}/{route}", {"sub": FAN}, RANGE)[0] == 403, route
        assert _get(module, context, path, None, RANGE)[0] == 401, route
        # an unknown artist: 403 to a stranger (who learns nothing), 404 to an operator
        assert _get(module, context, f"/artists/{unknown}/{route}", {"sub": STRANGER})[0] == 403, route
        status, body = _get(module, context, f"/artists/{unknown}/{route}", OPERATOR_CLAIMS)
        assert (status, body["error"]["code"]) == (404, "NotFound"), route
    artists.unlink(f"{FAN}@example.com", ARTIST)
    for route in ROUTES:
        assert _get(module, context, f"/artists/{ARTIST}/{route}", {"sub": FAN}, RANGE)[0] == 403, route


BAD_RANGES = [
    ({"from": "2026-13-01", "to": "2026-11-03"}, "from"),
    ({"from": "2026-11-01", "to": "yesterday"}, "to"),
    ({"from": "2026-11-1", "to": "2026-11-03"}, "from"),
    ({"from": "2026-11-04", "to": "2026-11-03"}, "from"),
    ({"from": "2025-11-01", "to": "2026-11-03"}, "to"),  # 368 days
]


def test_a_bad_range_is_a_422_naming_the_field(stack: Deployment, context: Any) -> None:
    module = load_function("artist_analytics", stack)
    for query, field in BAD_RANGES:
        status, body = _get(module, context, f"/artists/{ARTIST}/analytics", OPERATOR_CLAIMS, query)
        assert (status, body["error"]["code"], body["error"].get("field")) == (422, "InvalidInput", field), body
    # a year (the longest range) is fine
    assert (
        _get(
            module, context, f"/artists/{ARTIST}/analytics", OPERATOR_CLAIMS, {"from": "2025-11-03", "to": "2026-11-03"}
        )[0]
        == 200
    )


@pytest.mark.parametrize(
    ("claims", "groups"),
    [
        ({"cognito:groups": "[operators]"}, {"operators"}),
        ({"cognito:groups": "[editors operators]"}, {"editors", "operators"}),
        ({"cognito:groups": ["operators"]}, {"operators"}),
        ({"cognito:groups": "operators,editors"}, {"editors", "operators"}),
        ({}, set()),
    ],
)
def test_groups_are_read_from_the_claim_in_either_shape(claims: dict[str, Any], groups: set[str]) -> None:
    assert artists.groups_of(claims) == groups


def test_the_default_range_is_the_30_days_to_yesterday_and_no_run_means_no_estimate() -> None:
    days = analytics.day_range(None, None, today=date(2026, 12, 3))
    assert (days.start, days.end, len(days.days())) == (date(2026, 11, 3), date(2026, 12, 2), 30)
    assert analytics.day_range("2026-12-01", None, today=date(2026, 12, 3)).days() == [
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]
    tiers = [{"tier": "premium", "plays": 3, "billablePlays": 3}]
    assert analytics.estimated_revenue(tiers, None, "USD") == {
        "amount": None,
        "currency": "USD",
        "basis": None,
        "byTier": [],
    }
    run = {"month": "2026-11", "model": "pro-rata", "provisional": True, "rates": {"premium": Decimal("0.0033335")}}
    estimate = analytics.estimated_revenue(tiers, run, "USD")
    assert (estimate["amount"], estimate["basis"]["provisional"]) == ("0.01", True)


class AthenaShapedLake:
    """Answers as Athena does: every column name lower-cased, whatever the query's aliases."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, sql: str) -> QueryResult:
        self.queries.append(sql)
        if "FROM daily_artist" in sql:
            columns = ["day", "country", "devicetype", "tier", "plays", "billableplays", "listeners"]
            return QueryResult(
                columns, [("2026-11-01", "all", "all", "all", 3, 2, 2), ("2026-11-01", "SE", "web", "free", 3, 2, 2)]
            )
        return QueryResult(["songid", "plays", "billableplays"], [("song-1", 3, 2)])


def test_the_lake_figures_read_athena_s_lower_case_columns() -> None:
    lake = AthenaShapedLake()
    figures = analytics.lake_figures(lake, ARTIST, analytics.DayRange(date(2026, 11, 1), date(2026, 11, 1)))
    assert figures["daily"] == {"2026-11-01": {"plays": 3, "billablePlays": 2, "listeners": 2}}
    assert figures["deviceTypes"] == [{"deviceType": "web", "plays": 3, "billablePlays": 2}]
    assert figures["topSongs"] == [{"songId": "song-1", "title": None, "plays": 3, "billablePlays": 2}]
    assert all(
        f"artistid = '{ARTIST}'" in sql and "dt BETWEEN '2026-11-01' AND '2026-11-01'" in sql for sql in lake.queries
    )


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def test_set_role_operator_puts_the_group_in_the_next_token(aws: Deployment) -> None:
    bind_users_table(aws.tables["UsersTable"])
    pool = service.UserPool(aws.outputs["UserPoolId"], aws.outputs["UserPoolClientId"], auto_confirm=True)
    service.signup(pool, "ops@example.com", "a-long-password")
    before = service.login(pool, "ops@example.com", "a-long-password")
    assert not artists.is_operator(_claims(before["accessToken"]))
    assert artists.set_role(pool.pool_id, "ops@example.com", "operator")["role"] == "operator"
    after = _claims(service.login(pool, "ops@example.com", "a-long-password")["accessToken"])
    assert artists.is_operator(after) and after["cognito:groups"] == ["operators"]
    artists.set_role(pool.pool_id, "ops@example.com", "listener")
    assert not artists.is_operator(_claims(service.login(pool, "ops@example.com", "a-long-password")["accessToken"]))


@pytest.fixture
def cli_state(stack: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"outputs": stack.outputs, "environment": {}}), encoding="utf-8")
    monkeypatch.setenv("BACKBEAT_DEVSTACK_STATE", str(state))
    return stack


def test_artists_link_from_the_command_line_and_its_errors(
    cli_state: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["artists", "link", f"{FAN}@example.com", ARTIST]) == 0
    linked = json.loads(capsys.readouterr().out)
    assert (linked["userId"], linked["artistId"], linked["created"]) == (FAN, ARTIST, True)
    assert main(["artists", "link", f"{FAN}@example.com", ARTIST]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["created"], again["linkedAt"]) == (False, linked["linkedAt"])
    assert main(["artists", "accounts", ARTIST]) == 0
    assert [json.loads(line)["userId"] for line in capsys.readouterr().out.splitlines()] == [FAN]
    assert artists.is_linked(ARTIST, FAN) and not artists.is_linked(ARTIST, STRANGER)
    # an unknown email or artist is a one-line error naming it, and links nothing
    for email, artist_id, message in (
        ("nobody@example.com", ARTIST, "no user with email nobody@example.com"),
        (f"{FAN}@example.com", artist_id_for("Nobody At All"), "not found"),
        (f"{FAN}@example.com", "not-an-id", "artist 'not-an-id' not found"),
    ):
        assert main(["artists", "link", email, artist_id]) == 1
        error = capsys.readouterr().err
        assert error.startswith("backbeat: ") and message in error and "Traceback" not in error
    assert [account["userId"] for account in artists.accounts(ARTIST)] == [FAN]
