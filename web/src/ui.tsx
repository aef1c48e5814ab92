// Pieces every page uses: the router, messages, loading data, a list of songs with play and add.

import { useEffect, useRef, useState } from "preact/hooks";
import { describe, request } from "./api";
import { player } from "./player";
import type { Page, Playlist, PlayContext, Song } from "./types";

// ---------------------------------------------------------------- routing (#/path?query)

export interface Route {
  path: string[];
  query: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const [path, query] = hash.replace(/^#\/?/, "").split("?", 2);
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query || "") };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseHash(location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

export function go(hash: string): void {
  location.hash = hash;
}

// ---------------------------------------------------------------- messages

export type Message = { id: number; text: string; kind: "error" | "info" };
let messages: Message[] = [];
let nextId = 1;
const messageListeners = new Set<(m: Message[]) => void>();

export function say(text: string, kind: Message["kind"] = "error"): void {
  if (messages.some((m) => m.text === text)) return;
  const message = { id: nextId++, text, kind };
  messages = [...messages, message].slice(-4);
  messageListeners.forEach((l) => l(messages));
  if (kind === "info") window.setTimeout(() => dismiss(message.id), 5_000);
}

export function dismiss(id: number): void {
  messages = messages.filter((m) => m.id !== id);
  messageListeners.forEach((l) => l(messages));
}

export function useMessages(): Message[] {
  const [current, setCurrent] = useState(messages);
  useEffect(() => {
    messageListeners.add(setCurrent);
    return () => void messageListeners.delete(setCurrent);
  }, []);
  return current;
}

// ---------------------------------------------------------------- data

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

export function useApi<T>(path: string | null, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null; loading: boolean }>({
    data: null,
    error: null,
    loading: !!path,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    request<T>("GET", path).then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error: describe(error), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, tick, ...deps]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

const songCache = new Map<string, Promise<Song>>();
export function songById(id: string): Promise<Song> {
  let found = songCache.get(id);
  if (!found) {
    found = request<Song>("GET", `/songs/${encodeURIComponent(id)}`);
    found.catch(() => songCache.delete(id));
    songCache.set(id, found);
  }
  return found;
}

export function rememberSongs(songs: Song[]): void {
  songs.forEach((song) => songCache.has(song.id) || songCache.set(song.id, Promise.resolve(song)));
}

export function Status({ loaded, what }: { loaded: Loaded<unknown>; what: string }) {
  if (loaded.loading) return <p role="status">Loading {what}…</p>;
  if (loaded.error)
    return (
      <p class="error" role="alert">
        Could not load {what}: {loaded.error}{" "}
        <button type="button" onClick={loaded.reload}>
          Try again
        </button>
      </p>
    );
  return null;
}

export function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) seconds = 0;
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---------------------------------------------------------------- songs

export function SongList({
  songs,
  context,
  label,
  extra,
}: {
  songs: Song[];
  context: PlayContext;
  label: string;
  extra?: (song: Song, index: number) => preact.ComponentChildren;
}) {
  if (!songs.length) return <p>No songs.</p>;
  return (
    <ol class="songs" aria-label={label}>
      {songs.map((song, index) => (
        <li key={`${song.id}-${index}`} class="song">
          <button
            type="button"
            class="play"
            aria-label={`Play ${song.title} by ${song.artist.name}`}
            onClick={() => void player.playList(songs, index, context)}
          >
            ▶
          </button>
          <span class="meta">
            <span class="title">{song.title}</span>
            <span class="sub">
              <a href={`#/artist/${song.artist.id}`}>{song.artist.name}</a>
              {song.album?.id && (
                <>
                  {" · "}
                  <a href={`#/album/${song.album.id}`}>{song.album.title}</a>
                </>
              )}
            </span>
          </span>
          <span class="time">{formatTime(song.durationMs / 1000)}</span>
          <button type="button" class="small" aria-label={`Add ${song.title} to the queue`} onClick={() => player.enqueue(song)}>
            + Queue
          </button>
          <AddToPlaylist song={song} />
          {extra?.(song, index)}
        </li>
      ))}
    </ol>
  );
}

/** A menu of the caller's playlists to add a song to. */
export function AddToPlaylist({ song }: { song: Song }) {
  const [open, setOpen] = useState(false);
  const [playlists, setPlaylists] = useState<Playlist[] | null>(null);
  const menu = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    request<Page<Playlist>>("GET", "/me/playlists?limit=50").then(
      (page) => setPlaylists(page.items),
      (error) => {
        say(describe(error));
        setOpen(false);
      },
    );
    const close = (event: MouseEvent) => menu.current && !menu.current.contains(event.target as Node) && setOpen(false);
    document.addEventListener("click", close);
    return () => document.removeEventListener("click", close);
  }, [open]);
  const add = async (playlist: Playlist) => {
    setOpen(false);
    try {
      await request("POST", `/playlists/${playlist.id}/tracks`, { songId: song.id });
      say(`Added “${song.title}” to ${playlist.name}.`, "info");
    } catch (error) {
      say(`Could not add “${song.title}” to ${playlist.name}: ${describe(error)}`);
    }
  };
  return (
    <div class="menu" ref={menu} onKeyDown={(e) => e.key === "Escape" && setOpen(false)}>
      <button
        type="button"
        class="small"
        aria-haspopup="true"
        aria-expanded={open}
        aria-label={`Add ${song.title} to a playlist`}
        onClick={() => setOpen(!open)}
      >
        + Playlist
      </button>
      {open && (
        <ul class="menu-list" aria-label="Your playlists">
          {playlists === null && <li role="status">Loading…</li>}
          {playlists?.length === 0 && (
            <li>
              No playlists yet: <a href="#/playlists">create one</a>
            </li>
          )}
          {playlists?.map((playlist) => (
            <li key={playlist.id}>
              <button type="button" onClick={() => void add(playlist)}>
                {playlist.name}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
