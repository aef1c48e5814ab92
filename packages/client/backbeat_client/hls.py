"""Reading HLS media playlists (RFC 8216): segment durations, URIs and the fMP4 init segment.

Only what a VOD audio player needs: `#EXT-X-TARGETDURATION`, `#EXTINF`, `#EXT-X-MAP:URI=...` and the
segment URI lines. Relative URIs are resolved against the playlist's URL, and when the playlist URL
carries a query string (a signature) that the URI lacks, the query is kept: signed delivery in query
form only works if every segment request carries it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass(frozen=True)
class MediaSegment:
    url: str
    duration_seconds: float


@dataclass(frozen=True)
class MediaPlaylist:
    url: str
    target_duration_seconds: float
    init_url: str | None
    segments: list[MediaSegment] = field(default_factory=list)

    @property
    def duration_seconds(self) -> float:
        return sum(segment.duration_seconds for segment in self.segments)


def resolve_uri(uri: str, playlist_url: str) -> str:
    """`uri` as an absolute URL, carrying the playlist URL's query string if it has none of its own."""
    resolved = urljoin(playlist_url, uri)
    base_query = urlsplit(playlist_url).query
    parts = urlsplit(resolved)
    if base_query and not parts.query:
        resolved = urlunsplit((parts.scheme, parts.netloc, parts.path, base_query, parts.fragment))
    return resolved


def attributes(text: str) -> dict[str, str]:
    """An attribute list (`URI="init.mp4",BYTERANGE="..."`) as a dict, quotes removed."""
    return {key: value.strip('"') for key, value in _ATTRIBUTE.findall(text)}


def parse_media_playlist(text: str, playlist_url: str) -> MediaPlaylist:
    """The segments of a media playlist, with absolute URLs; ValueError if it is not one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist (no #EXTM3U)")
    if any(line.startswith("#EXT-X-STREAM-INF") for line in lines):
        raise ValueError("a master playlist, not a media playlist")
    target_duration = 0.0
    init_url: str | None = None
    segments: list[MediaSegment] = []
    pending_duration: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target_duration = float(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MAP:"):
            uri = attributes(line.split(":", 1)[1]).get("URI")
            if uri:
                init_url = resolve_uri(uri, playlist_url)
        elif line.startswith("#EXTINF:"):
            pending_duration = float(line.split(":", 1)[1].split(",", 1)[0])
        elif not line.startswith("#"):
            if pending_duration is None:
                raise ValueError(f"segment without #EXTINF: {line}")
            segments.append(MediaSegment(resolve_uri(line, playlist_url), pending_duration))
            pending_duration = None
    return MediaPlaylist(playlist_url, target_duration, init_url, segments)
