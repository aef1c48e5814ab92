"""The OpenSearch connection, index names and mappings.

In AWS the engine is an OpenSearch Serverless collection (requests SigV4-signed for `aoss`); in the
devstack it is osmem-server on loopback (plain HTTP). The code is the same opensearch-py either way:
only an `https://` endpoint is signed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from opensearchpy import OpenSearch, RequestsHttpConnection
from opensearchpy.exceptions import RequestError

ENTITY_TYPES = ("song", "album", "artist", "playlist")
CATALOG_ENTITIES = ("song", "album", "artist")  # the entities the catalog table holds

# The field an entity is named by (a song's or album's title, an artist's or playlist's name) is
# matched exactly (`keyword`) and by prefix (`prefix`, edge n-grams) as well as by its words; the
# other text fields (a song's artist and album, an album's artist) are matched by their words only,
# so they carry no subfields: nothing queries them, and the n-grams are most of the indexing work.
_FOLDED_TEXT = {"type": "text", "analyzer": "folding"}
_NAMING_TEXT = {
    **_FOLDED_TEXT,
    "fields": {
        "keyword": {"type": "keyword", "normalizer": "folding"},
        "prefix": {"type": "text", "analyzer": "prefix", "search_analyzer": "folding"},
    },
}

SETTINGS: dict[str, Any] = {
    "analysis": {
        "filter": {"prefix_grams": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20}},
        "normalizer": {"folding": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
        "analyzer": {
            "folding": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
            "prefix": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "prefix_grams"],
            },
        },
    }
}

MAPPINGS: dict[str, dict[str, Any]] = {
    "song": {
        "dynamic": False,
        "properties": {
            "title": _NAMING_TEXT,
            "artist": _FOLDED_TEXT,
            "album": _FOLDED_TEXT,
            "artistId": {"type": "keyword"},
            "albumId": {"type": "keyword"},
            "popularity": {"type": "float"},
        },
    },
    "album": {
        "dynamic": False,
        "properties": {
            "title": _NAMING_TEXT,
            "artist": _FOLDED_TEXT,
            "artistId": {"type": "keyword"},
            "popularity": {"type": "float"},
        },
    },
    "artist": {
        "dynamic": False,
        "properties": {"name": _NAMING_TEXT, "popularity": {"type": "float"}},
    },
    "playlist": {
        "dynamic": False,
        "properties": {"name": _NAMING_TEXT, "ownerId": {"type": "keyword"}, "popularity": {"type": "float"}},
    },
}


def index_name(prefix: str, entity: str) -> str:
    """The alias queries and the indexer use; physical indices are `<alias>-<generation>`."""
    return f"{prefix}{entity}s"


@cache
def connect(endpoint: str, region: str = "us-east-1", timeout: float = 10.0, max_retries: int = 2) -> OpenSearch:
    """One client per execution environment. `https://` endpoints are OpenSearch Serverless.

    `timeout` bounds each attempt (connect and read); a request retries up to `max_retries` times on a
    timeout or a refused connection. Indexing and reindexing keep the defaults; the search API waits
    once, for `SearchSettings.search_timeout_seconds`, and answers 503 past it."""
    if endpoint.startswith("https://"):
        import boto3
        from opensearchpy import AWSV4SignerAuth

        credentials = boto3.Session().get_credentials()
        return OpenSearch(
            hosts=[endpoint],
            http_auth=AWSV4SignerAuth(credentials, region, "aoss"),
            use_ssl=True,
            verify_certs=True,
            connection_class=RequestsHttpConnection,
            timeout=timeout,
            max_retries=max_retries,
            retry_on_timeout=True,
        )
    return OpenSearch(hosts=[endpoint], timeout=timeout, max_retries=max_retries, retry_on_timeout=True)


def ensure_indices(client: OpenSearch, prefix: str, generation: str = "1") -> None:
    """Create each entity's index behind its alias unless the alias exists (idempotent, race-safe)."""
    for entity in ENTITY_TYPES:
        alias = index_name(prefix, entity)
        if client.indices.exists_alias(name=alias):
            continue
        create_index(client, alias, entity, generation, with_alias=True)


def create_index(client: OpenSearch, alias: str, entity: str, generation: str, *, with_alias: bool) -> str:
    physical = f"{alias}-{generation}"
    body: dict[str, Any] = {"settings": SETTINGS, "mappings": MAPPINGS[entity]}
    if with_alias:
        body["aliases"] = {alias: {}}
    try:
        client.indices.create(index=physical, body=body)
    except RequestError as error:
        if "already_exists" not in str(error.error):
            raise
    return physical
