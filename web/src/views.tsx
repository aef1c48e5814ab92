// The pages: log in / sign up, home (recommendations, recently played), artist, album, Discover
// Weekly, the trending chart and the listening history.

import { useState } from "preact/hooks";
import { describe, login, request, signup } from "./api";
import { formatTime, rememberSongs, SongList, Status, useApi } from "./ui";
import type { Page, Playlist, Song } from "./types";

export function LoginPage({ reason }: { reason: string | null }) {
  const [mode, setMode] = useState<"login" | "signup">("login");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "login") await login(email, password);
      else await signup(email, password);
      if (!location.hash || location.hash === "#/login") location.hash = "#/";
    } catch (failure) {
      setError(describe(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>Backbeat</h1>
      {reason && (
        <p class="error" role="alert">
          {reason}
        </p>
      )}
      <form onSubmit={submit} aria-labelledby="login-heading">
        <h2 id="login-heading">{mode === "login" ? "Log in" : "Create an account"}</h2>
        <label for="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        <label for="password">Password {mode === "signup" && <span class="sub">(at least 8 characters)</span>}</label>
        <input
          id="password"
          type="password"
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          minLength={8}
          required
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {mode === "login" ? "Log in" : "Sign up"}
        </button>
      </form>
      <p>
        {mode === "login" ? "New here? " : "Have an account? "}
        <button type="button" class="link" onClick={() => setMode(mode === "login" ? "signup" : "login")}>
          {mode === "login" ? "Create an account" : "Log in instead"}
        </button>
      </p>
    </main>
  );
}

interface Recommendations {
  items: { rank: number; song: Song; sources: string[] }[];
  fallback: boolean;
  fallbackReason: string | null;
  variant?: { name: string };
}

interface History {
  items: { track: Song | null; playedAt: string; playedMs: number; ended: string | null; reason: string }[];
  cursors: { before: string | null };
  next: string | null;
}

export function HomePage() {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const recs = useApi<Recommendations>(`/me/recommendations?limit=20&deviceType=web&tz=${encodeURIComponent(tz)}`);
  const history = useApi<History>("/me/recently-played?limit=10");
  const songs = recs.data?.items.map((item) => item.song) || [];
  rememberSongs(songs);
  const variant = recs.data?.variant?.name;
  return (
    <section aria-labelledby="home-heading">
      <h1 id="home-heading">For you</h1>
      <p>
        <a href="#/discover">Your Discover Weekly</a> · <a href="#/trending">Trending now</a>
      </p>
      <h2>Recommended</h2>
      <Status loaded={recs} what="recommendations" />
      {recs.data?.fallback && <p class="sub">Trending songs for now: {recs.data.fallbackReason || "no personal picks yet"}.</p>}
      {recs.data && <SongList songs={songs} context={variant ? { type: "recommendations", id: variant } : { type: "recommendations" }} label="Recommended songs" />}
      <h2>Recently played</h2>
      <Status loaded={history} what="your history" />
      {history.data && <HistoryList history={history.data} />}
      <p>
        <a href="#/recent">All your listening history</a>
      </p>
    </section>
  );
}

function HistoryList({ history }: { history: History }) {
  const songs = history.items.map((item) => item.track).filter((track): track is Song => !!track);
  if (!history.items.length) return <p>Nothing played yet.</p>;
  return (
    <SongList
      songs={songs}
      context={{ type: "search" }}
      label="Recently played songs"
      extra={(_song, index) => {
        const item = history.items.filter((i) => i.track)[index];
        return (
          <span class="sub when">
            {new Date(item.playedAt).toLocaleString()} · {formatTime(item.playedMs / 1000)} {item.ended ? `· ${item.ended}` : ""}
          </span>
        );
      }}
    />
  );
}

export function RecentPage() {
  const [pages, setPages] = useState<History[]>([]);
  const first = useApi<History>("/me/recently-played?limit=20");
  const all = first.data ? [first.data, ...pages] : [];
  const last = all[all.length - 1];
  const more = async () => {
    if (!last?.cursors.before) return;
    try {
      const page = await request<History>("GET", `/me/recently-played?limit=20&before=${encodeURIComponent(last.cursors.before)}`);
      setPages([...pages, page]);
    } catch (error) {
      first.reload();
      throw new Error(describe(error));
    }
  };
  return (
    <section aria-labelledby="recent-heading">
      <h1 id="recent-heading">Recently played</h1>
      <Status loaded={first} what="your history" />
      {all.length > 0 && <HistoryList history={{ items: all.flatMap((p) => p.items), cursors: last.cursors, next: last.next }} />}
      {last?.next && (
        <button type="button" onClick={() => void more()}>
          Load more
        </button>
      )}
    </section>
  );
}

interface Artist {
  id: string;
  name: string;
  monthlyListeners?: number;
  playsLastHour?: number;
  songs: Page<Song> & { limit: number; offset: number };
}

export function ArtistPage({ id }: { id: string }) {
  const [offset, setOffset] = useState(0);
  const loaded = useApi<Artist>(`/artists/${encodeURIComponent(id)}?limit=20&offset=${offset}`);
  const artist = loaded.data;
  if (artist) rememberSongs(artist.songs.items);
  return (
    <section aria-labelledby="artist-heading">
      <h1 id="artist-heading">{artist?.name || "Artist"}</h1>
      <Status loaded={loaded} what="the artist" />
      {artist && (
        <>
          <p class="sub">
            {(artist.monthlyListeners ?? 0).toLocaleString()} monthly listeners · {artist.playsLastHour ?? 0} plays in the last hour ·{" "}
            {artist.songs.total} songs
          </p>
          <SongList songs={artist.songs.items} context={{ type: "artist", id }} label={`Songs by ${artist.name}`} />
          <nav aria-label="Pages of songs" class="pager">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 20))}>
              Previous page
            </button>
            <button type="button" disabled={offset + 20 >= artist.songs.total} onClick={() => setOffset(offset + 20)}>
              Next page
            </button>
          </nav>
        </>
      )}
    </section>
  );
}

interface Album {
  id: string;
  title: string;
  type: string;
  artist: { id: string; name: string };
  tracks: Page<Song>;
}

export function AlbumPage({ id }: { id: string }) {
  const loaded = useApi<Album>(`/albums/${encodeURIComponent(id)}`);
  const album = loaded.data;
  if (album) rememberSongs(album.tracks.items);
  return (
    <section aria-labelledby="album-heading">
      <h1 id="album-heading">{album?.title || "Album"}</h1>
      <Status loaded={loaded} what="the album" />
      {album && (
        <>
          <p class="sub">
            {album.type} by <a href={`#/artist/${album.artist.id}`}>{album.artist.name}</a> · {album.tracks.total} tracks
          </p>
          <SongList songs={album.tracks.items} context={{ type: "album", id }} label={`Tracks of ${album.title}`} />
        </>
      )}
    </section>
  );
}

interface Weekly {
  week: string;
  playlist: Playlist;
  songs: Song[];
  fallback: boolean;
  fallbackReason: string | null;
}

export function DiscoverPage() {
  const loaded = useApi<Weekly>("/me/discover-weekly");
  const weekly = loaded.data;
  if (weekly) rememberSongs(weekly.songs);
  return (
    <section aria-labelledby="discover-heading">
      <h1 id="discover-heading">Discover Weekly</h1>
      <Status loaded={loaded} what="your Discover Weekly" />
      {weekly && (
        <>
          <p class="sub">
            Week {weekly.week}: {weekly.songs.length} songs you have never played.{" "}
            {weekly.fallback && `(From what is popular: ${weekly.fallbackReason || "not enough history yet"}.)`}
          </p>
          <SongList songs={weekly.songs} context={{ type: "discover-weekly", id: weekly.playlist.id }} label="Discover Weekly songs" />
        </>
      )}
    </section>
  );
}

interface Trending {
  items: { rank: number; song: Song; playsLast24h: number; listeningNow?: number }[];
  generatedAt: string;
}

export function TrendingPage() {
  const loaded = useApi<Trending>("/charts/trending?limit=50");
  const chart = loaded.data;
  const songs = chart?.items.map((item) => item.song) || [];
  rememberSongs(songs);
  return (
    <section aria-labelledby="trending-heading">
      <h1 id="trending-heading">Trending</h1>
      <Status loaded={loaded} what="the chart" />
      {chart && (
        <>
          <p class="sub">Songs rising against their usual day, as of {new Date(chart.generatedAt).toLocaleTimeString()}.</p>
          {songs.length === 0 && <p>Nothing is trending yet.</p>}
          <SongList
            songs={songs}
            context={{ type: "radio", id: "trending" }}
            label="Trending songs"
            extra={(_song, index) => <span class="sub">{chart.items[index].playsLast24h} plays in 24 h</span>}
          />
        </>
      )}
    </section>
  );
}
