// Playlists: the caller's list and a new one; a playlist page that follows the playlist live over the
// WebSocket API, with rename, sharing as collaborative, inviting (the invitee accepts in
// invitations.tsx), removing, and reordering by drag and drop or by keyboard (Alt+Arrow keys, or the
// Move buttons).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, describe, request } from "./api";
import { player } from "./player";
import { type Connection, LivePlaylist, type LiveState } from "./realtime";
import { formatTime, go, say, songById, Status, useApi } from "./ui";
import type { Me, Page, Playlist, Song } from "./types";

export function PlaylistsPage() {
  const loaded = useApi<Page<Playlist>>("/me/playlists?limit=50");
  const [name, setName] = useState("");
  const [collaborative, setCollaborative] = useState(false);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const made = await request<Playlist>("POST", "/playlists", { name: name.trim(), isCollaborative: collaborative });
      go(`#/playlist/${made.id}`);
    } catch (error) {
      say(`Could not create the playlist: ${describe(error)}`);
    }
  };
  return (
    <section aria-labelledby="playlists-heading">
      <h1 id="playlists-heading">Your playlists</h1>
      <form class="inline" onSubmit={create} aria-label="New playlist">
        <label for="new-playlist">New playlist name</label>
        <input id="new-playlist" required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <label class="check">
          <input type="checkbox" checked={collaborative} onChange={(e) => setCollaborative((e.target as HTMLInputElement).checked)} />
          Collaborative
        </label>
        <button type="submit" class="primary">
          Create
        </button>
      </form>
      <Status loaded={loaded} what="your playlists" />
      <ul class="cards" aria-label="Playlists">
        {loaded.data?.items.map((playlist) => (
          <li key={playlist.id}>
            <a href={`#/playlist/${playlist.id}`}>{playlist.name}</a>{" "}
            <span class="sub">
              {playlist.tracks.total} songs{playlist.isCollaborative ? " · collaborative" : ""}
            </span>
          </li>
        ))}
        {loaded.data?.items.length === 0 && <li>No playlists yet.</li>}
      </ul>
    </section>
  );
}

function toLive(playlist: Playlist): LiveState {
  return {
    version: playlist.version,
    name: playlist.name,
    description: playlist.description || "",
    isCollaborative: playlist.isCollaborative,
    isPublic: playlist.isPublic,
    collaborators: playlist.collaborators,
    items: playlist.tracks.items || [],
    deleted: false,
  };
}

function useSongs(ids: string[]): Map<string, Song> {
  const [songs, setSongs] = useState(new Map<string, Song>());
  const key = ids.join(",");
  useEffect(() => {
    let live = true;
    const missing = ids.filter((id) => !songs.has(id));
    if (!missing.length) return;
    void Promise.all(missing.map((id) => songById(id).catch(() => null))).then((found) => {
      if (!live) return;
      setSongs((before) => {
        const next = new Map(before);
        found.forEach((song) => song && next.set(song.id, song));
        return next;
      });
    });
    return () => {
      live = false;
    };
  }, [key]);
  return songs;
}

export function PlaylistPage({ id, me }: { id: string; me: Me | null }) {
  const loaded = useApi<Playlist>(`/playlists/${encodeURIComponent(id)}?limit=100`);
  const [state, setState] = useState<LiveState | null>(null);
  const [connection, setConnection] = useState<Connection>("connecting");
  const live = useRef<LivePlaylist | null>(null);
  const [announce, setAnnounce] = useState("");

  useEffect(() => {
    if (!loaded.data) return;
    const initial = toLive(loaded.data);
    setState(initial);
    const follower = new LivePlaylist(id, initial, setState, setConnection);
    live.current = follower;
    (window as unknown as { backbeatLive?: LivePlaylist }).backbeatLive = follower; // for tests and benchmarks
    return () => follower.close();
  }, [loaded.data]);

  const songs = useSongs(useMemo(() => (state ? state.items.map((item) => item.songId) : []), [state?.items]));
  const data = loaded.data;
  const isOwner = !!(me && data && data.ownerId === me.userId);

  const write = async (method: string, path: string, body: unknown, op: Record<string, unknown> | null, what: string) => {
    try {
      const answer = await request<{ version: number; itemId?: string }>(method, path, body);
      if (op && live.current) live.current.local(answer.version, op);
      return answer;
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) say(`You cannot ${what} here: only the owner and collaborators may.`);
      else say(`Could not ${what}: ${describe(error)}`);
      return null;
    }
  };

  const move = async (from: number, to: number) => {
    if (!state || from === to || to < 0 || to >= state.items.length) return;
    const insertBefore = to > from ? to + 1 : to;
    const itemIds = [state.items[from].itemId];
    const op = { type: "tracks.moved", rangeStart: from, insertBefore, rangeLength: 1, itemIds };
    const done = await write("PUT", `/playlists/${id}/tracks`, { rangeStart: from, insertBefore, rangeLength: 1 }, op, "reorder");
    if (done) {
      const song = songs.get(state.items[from].songId);
      setAnnounce(`Moved ${song?.title || "the song"} to position ${to + 1}.`);
      window.setTimeout(() => document.getElementById(`item-${itemIds[0]}`)?.focus(), 0);
    }
  };

  const remove = (index: number) => {
    if (!state) return;
    const item = state.items[index];
    void write("DELETE", `/playlists/${id}/tracks/${item.itemId}`, undefined, { type: "tracks.removed", itemIds: [item.itemId] }, "remove the song");
  };

  if (!data || !state) {
    return (
      <section aria-labelledby="playlist-heading">
        <h1 id="playlist-heading">Playlist</h1>
        <Status loaded={loaded} what="the playlist" />
      </section>
    );
  }
  if (state.deleted) return <p role="alert">This playlist has been deleted.</p>;
  const ordered = state.items.map((item) => songs.get(item.songId)).filter((s): s is Song => !!s);
  const canEdit = isOwner || (state.isCollaborative && !!me && state.collaborators.includes(me.userId));

  return (
    <section aria-labelledby="playlist-heading">
      <h1 id="playlist-heading">{state.name}</h1>
      <p class="sub">
        {state.items.length} songs · version {state.version} · {state.isCollaborative ? "collaborative" : "private to you"}
        {state.collaborators.length ? ` · ${state.collaborators.length} collaborator(s)` : ""} ·{" "}
        <span class={`live ${connection}`} role="status" data-testid="connection">
          {connection === "live" ? "live" : connection === "connecting" ? "connecting…" : "reconnecting… (changes will catch up)"}
        </span>
      </p>
      {isOwner && <OwnerTools id={id} state={state} write={write} />}
      {ordered.length > 0 && (
        <button type="button" class="primary" onClick={() => void player.playList(ordered, 0, { type: "playlist", id })}>
          Play all
        </button>
      )}
      <p class="visually-hidden" aria-live="polite">
        {announce}
      </p>
      {canEdit && state.items.length > 1 && <p class="sub">Drag a song to reorder, or focus it and press Alt+↑ / Alt+↓.</p>}
      <TrackList state={state} songs={songs} id={id} canEdit={canEdit} move={move} remove={remove} />
    </section>
  );
}

function OwnerTools({
  id,
  state,
  write,
}: {
  id: string;
  state: LiveState;
  write: (m: string, p: string, b: unknown, op: Record<string, unknown> | null, what: string) => Promise<unknown>;
}) {
  const [name, setName] = useState(state.name);
  const [email, setEmail] = useState("");
  useEffect(() => setName(state.name), [state.name]);
  return (
    <div class="tools">
      <form
        class="inline"
        aria-label="Rename"
        onSubmit={(e) => {
          e.preventDefault();
          void write("PATCH", `/playlists/${id}`, { name: name.trim() }, { type: "details.updated", changes: { name: name.trim() } }, "rename the playlist");
        }}
      >
        <label for="playlist-name">Name</label>
        <input id="playlist-name" required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit">Rename</button>
      </form>
      <label class="check">
        <input
          type="checkbox"
          checked={state.isCollaborative}
          onChange={(e) => {
            const on = (e.target as HTMLInputElement).checked;
            void write("PATCH", `/playlists/${id}`, { isCollaborative: on }, { type: "details.updated", changes: { isCollaborative: on } }, "change sharing");
          }}
        />
        Collaborative (collaborators may add, remove and reorder)
      </label>
      {state.isCollaborative && (
        <form
          class="inline"
          aria-label="Invite a collaborator"
          onSubmit={async (e) => {
            e.preventDefault();
            // 202 whether or not an account has the address: nobody is a collaborator until they accept
            const invited = email.trim();
            if (await write("POST", `/playlists/${id}/collaborators`, { email: invited }, null, "invite")) {
              say(`Invitation sent to ${invited}. They can edit once they accept it.`, "info");
              setEmail("");
            }
          }}
        >
          <label for="collaborator-email">Invite by email</label>
          <input id="collaborator-email" type="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
          <button type="submit">Invite</button>
        </form>
      )}
    </div>
  );
}

function TrackList({
  state,
  songs,
  id,
  canEdit,
  move,
  remove,
}: {
  state: LiveState;
  songs: Map<string, Song>;
  id: string;
  canEdit: boolean;
  move: (from: number, to: number) => Promise<void>;
  remove: (index: number) => void;
}) {
  const [dragging, setDragging] = useState<number | null>(null);
  const [over, setOver] = useState<number | null>(null);
  if (!state.items.length) return <p>No songs yet: add some from search, an album or an artist (“+ Playlist”).</p>;
  const playFrom = (index: number) => {
    const list = state.items.map((item) => songs.get(item.songId)).filter((s): s is Song => !!s);
    const song = songs.get(state.items[index].songId);
    if (song) void player.playList(list, Math.max(0, list.indexOf(song)), { type: "playlist", id });
  };
  return (
    <ol class="songs tracks" aria-label="Songs in this playlist">
      {state.items.map((item, index) => {
        const song = songs.get(item.songId);
        const title = song?.title || "Loading…";
        return (
          <li
            key={item.itemId}
            id={`item-${item.itemId}`}
            class={`song${dragging === index ? " dragging" : ""}${over === index ? " over" : ""}`}
            draggable={canEdit}
            tabIndex={canEdit ? 0 : undefined}
            aria-label={canEdit ? `${index + 1}. ${title}${song ? ` by ${song.artist.name}` : ""}` : undefined}
            data-song-id={item.songId}
            onDragStart={(e) => {
              setDragging(index);
              e.dataTransfer?.setData("text/plain", String(index));
            }}
            onDragOver={(e) => {
              if (dragging === null) return;
              e.preventDefault();
              setOver(index);
            }}
            onDragEnd={() => {
              setDragging(null);
              setOver(null);
            }}
            onDrop={(e) => {
              e.preventDefault();
              const from = Number(e.dataTransfer?.getData("text/plain") ?? dragging);
              setDragging(null);
              setOver(null);
              if (Number.isInteger(from)) void move(from, index);
            }}
            onKeyDown={(e) => {
              if (!canEdit || e.target !== e.currentTarget || !e.altKey) return;
              if (e.key === "ArrowUp") {
                e.preventDefault();
                void move(index, index - 1);
              } else if (e.key === "ArrowDown") {
                e.preventDefault();
                void move(index, index + 1);
              }
            }}
          >
            <button type="button" class="play" aria-label={`Play ${title}`} disabled={!song} onClick={() => playFrom(index)}>
              ▶
            </button>
            <span class="meta">
              <span class="title">{title}</span>
              {song && (
                <span class="sub">
                  <a href={`#/artist/${song.artist.id}`}>{song.artist.name}</a>
                </span>
              )}
            </span>
            <span class="time">{song ? formatTime(song.durationMs / 1000) : ""}</span>
            {canEdit && (
              <>
                <button type="button" class="small" aria-label={`Move ${title} up`} disabled={index === 0} onClick={() => void move(index, index - 1)}>
                  ↑
                </button>
                <button
                  type="button"
                  class="small"
                  aria-label={`Move ${title} down`}
                  disabled={index === state.items.length - 1}
                  onClick={() => void move(index, index + 1)}
                >
                  ↓
                </button>
                <button type="button" class="small" aria-label={`Remove ${title} from the playlist`} onClick={() => remove(index)}>
                  Remove
                </button>
              </>
            )}
          </li>
        );
      })}
    </ol>
  );
}
