// Search as you type: suggestions from /search/suggest (a combobox: arrows, Enter, Escape), the full
// results from /search on Enter.

import { useEffect, useRef, useState } from "preact/hooks";
import { describe, request } from "./api";
import { go, rememberSongs, SongList, Status, useApi } from "./ui";
import type { AlbumItem, ArtistItem, Page, Playlist, Song } from "./types";

interface Suggestion {
  type: "song" | "artist" | "album";
  id: string;
  text: string;
}

const cache = new Map<string, Suggestion[]>();

export function SearchBox({ initial }: { initial: string }) {
  const [text, setText] = useState(initial);
  const [suggestions, setSuggestions] = useState<Suggestion[]>([]);
  const [shownFor, setShownFor] = useState(""); // the text the suggestions shown answer
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [error, setError] = useState<string | null>(null);
  const latest = useRef("");
  const abort = useRef<AbortController | null>(null);

  useEffect(() => setText(initial), [initial]);

  const suggest = (value: string) => {
    const q = value.trim();
    latest.current = q;
    setActive(-1);
    if (!q) {
      setSuggestions([]);
      setOpen(false);
      return;
    }
    const cached = cache.get(q.toLowerCase());
    if (cached) {
      setSuggestions(cached);
      setShownFor(q);
      setOpen(true);
      return;
    }
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    request<{ suggestions: Suggestion[] }>("GET", `/search/suggest?limit=8&q=${encodeURIComponent(q)}`, undefined, true, {
      signal: controller.signal,
    }).then(
      (answer) => {
        cache.set(q.toLowerCase(), answer.suggestions);
        if (latest.current !== q) return;
        setError(null);
        setSuggestions(answer.suggestions);
        setShownFor(q);
        setOpen(true);
      },
      (failure) => {
        if ((failure as Error).name !== "AbortError" && latest.current === q) setError(describe(failure));
      },
    );
  };

  const choose = (suggestion: Suggestion) => {
    setOpen(false);
    if (suggestion.type === "artist") go(`#/artist/${suggestion.id}`);
    else if (suggestion.type === "album") go(`#/album/${suggestion.id}`);
    else go(`#/search?q=${encodeURIComponent(suggestion.text)}`);
  };

  const onKey = (event: KeyboardEvent) => {
    if (event.key === "ArrowDown" && suggestions.length) {
      event.preventDefault();
      setOpen(true);
      setActive((active + 1) % suggestions.length);
    } else if (event.key === "ArrowUp" && suggestions.length) {
      event.preventDefault();
      setActive(active <= 0 ? suggestions.length - 1 : active - 1);
    } else if (event.key === "Escape") {
      setOpen(false);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (open && active >= 0 && suggestions[active]) choose(suggestions[active]);
      else if (text.trim()) {
        setOpen(false);
        go(`#/search?q=${encodeURIComponent(text.trim())}`);
      }
    }
  };

  return (
    <div class="searchbox" role="search">
      <label for="search-input" class="visually-hidden">
        Search songs, artists, albums and playlists
      </label>
      <input
        id="search-input"
        type="search"
        role="combobox"
        autoComplete="off"
        placeholder="Search (Enter for all results)"
        aria-autocomplete="list"
        aria-expanded={open && suggestions.length > 0}
        aria-controls="search-suggestions"
        aria-activedescendant={active >= 0 ? `suggestion-${active}` : undefined}
        value={text}
        onInput={(event) => {
          const value = (event.target as HTMLInputElement).value;
          setText(value);
          suggest(value);
        }}
        onKeyDown={onKey}
        onBlur={() => window.setTimeout(() => setOpen(false), 150)}
      />
      <ul id="search-suggestions" data-for={shownFor} role="listbox" aria-label="Suggestions" class="suggestions" hidden={!open || !suggestions.length}>
        {suggestions.map((suggestion, index) => (
          <li
            key={`${suggestion.type}-${suggestion.id}`}
            id={`suggestion-${index}`}
            role="option"
            aria-selected={index === active}
            class={index === active ? "active" : ""}
            onMouseDown={(event) => {
              event.preventDefault();
              choose(suggestion);
            }}
          >
            <span class="kind">{suggestion.type}</span> {suggestion.text}
          </li>
        ))}
      </ul>
      {error && (
        <p class="error small-print" role="alert">
          Suggestions unavailable: {error}
        </p>
      )}
    </div>
  );
}

interface Results {
  songs?: Page<Song>;
  albums?: Page<AlbumItem>;
  artists?: Page<ArtistItem>;
  playlists?: Page<Playlist>;
}

export function SearchPage({ q }: { q: string }) {
  const loaded = useApi<Results>(q ? `/search?limit=20&q=${encodeURIComponent(q)}` : null);
  const results = loaded.data;
  if (results?.songs) rememberSongs(results.songs.items);
  return (
    <section aria-labelledby="search-heading">
      <h1 id="search-heading">{q ? `Results for “${q}”` : "Search"}</h1>
      {!q && <p>Type in the search box above: suggestions appear as you type, Enter shows everything.</p>}
      <Status loaded={loaded} what="results" />
      {results && (
        <>
          <h2>Songs</h2>
          <SongList songs={results.songs?.items || []} context={{ type: "search" }} label="Songs found" />
          <h2>Artists</h2>
          <ul class="cards" aria-label="Artists found">
            {(results.artists?.items || []).map((artist) => (
              <li key={artist.id}>
                <a href={`#/artist/${artist.id}`}>{artist.name}</a>
              </li>
            ))}
          </ul>
          <h2>Albums</h2>
          <ul class="cards" aria-label="Albums found">
            {(results.albums?.items || []).map((album) => (
              <li key={album.id}>
                <a href={`#/album/${album.id}`}>{album.title}</a> <span class="sub">{album.artist?.name}</span>
              </li>
            ))}
          </ul>
          <h2>Playlists</h2>
          <ul class="cards" aria-label="Playlists found">
            {(results.playlists?.items || []).map((playlist) => (
              <li key={playlist.id}>
                <a href={`#/playlist/${playlist.id}`}>{playlist.name}</a>
              </li>
            ))}
            {!results.playlists?.items.length && <li>No playlists.</li>}
          </ul>
        </>
      )}
    </section>
  );
}
