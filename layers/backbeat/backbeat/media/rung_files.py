"""Every file of a rung named after the rung, so that the token's cap covers all of them.

The edge serves only files named `master_<kbps>k...` at or below the token's cap (`signing.verify`).
MediaConvert already names everything after its rung; ffmpeg's HLS muxer names the init segments
by variant index (`init_0.mp4` .. `init_4.mp4`), which says nothing about the rung. Rather than
teach the edge the ladder's order, the stream function renames such files the first time their
rung is played: each foreign-named file is copied (server-side, once) under its rung's name
(`init_4.mp4` -> `master_320k_init_4.mp4`), then the rung playlist is rewritten in place to name
the copy. A playlist that names only its own rung's files is left as it is, so the step is
idempotent and finds by itself what is left to do; two writers write the same bytes, copies first
and the playlist last, so a playlist always names files that exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from backbeat.media.signing import rung_of

_MAP_URI = re.compile(r'(#EXT-X-MAP:.*URI=")([^"]+)(")')


def alias(kbps: int, file: str) -> str:
    """The name a foreign-named file of the `kbps` rung is served under."""
    return f"master_{kbps}k_{file}"


@dataclass(frozen=True)
class RungNaming:
    """A rung playlist as it should read (`text`) and the copies that needs (alias -> original);
    no copies: the playlist already names only files of its rung."""

    text: str
    copies: dict[str, str] = field(default_factory=dict)


def rung_named(text: str, kbps: int) -> RungNaming:
    """The `kbps` rung's playlist `text` with every file it names named after the rung."""
    copies: dict[str, str] = {}

    def named(file: str) -> str:
        if "/" in file or ":" in file:
            raise ValueError(f"rung {kbps}k names {file}, not a file beside it")
        if rung_of(file) == kbps:
            return file
        copies[alias(kbps, file)] = file
        return alias(kbps, file)

    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#EXT-X-MAP:"):
            line = _MAP_URI.sub(lambda m: m[1] + named(m[2]) + m[3], line)
        elif stripped and not stripped.startswith("#"):
            line = named(stripped)
        lines.append(line)
    return RungNaming("\n".join(lines) + "\n" if copies else text, copies)
