// Backbeat's web player: hash routes (#/search, #/playlist/ID, ...) so that no page path is ever
// an API path, the session gate, the header with search, the page, and the player bar.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentSession, describe, loadConfig, logout, networkMessage, onSession, request, type Session } from "./api";
import { player, loadHls } from "./player";
import { InvitationBadge, InvitationsPage, useInvitationPolling } from "./invitations";
import { PlayerBar } from "./playerbar";
import { PlaylistPage, PlaylistsPage } from "./playlists";
import { flush } from "./reporter";
import { SearchBox, SearchPage } from "./search";
import { dismiss, say, useMessages, useRoute } from "./ui";
import { AlbumPage, ArtistPage, DiscoverPage, HomePage, LoginPage, RecentPage, TrendingPage } from "./views";
import type { Me } from "./types";
import "./style.css";

const NAV = [
  ["#/", "Home"],
  ["#/playlists", "Playlists"],
  ["#/discover", "Discover Weekly"],
  ["#/trending", "Trending"],
  ["#/recent", "Recently played"],
  ["#/invitations", "Invitations"],
] as const;

function Page({ me }: { me: Me | null }) {
  const route = useRoute();
  const [head, id] = route.path;
  useEffect(() => document.getElementById("main")?.focus({ preventScroll: true }), [route.path.join("/")]);
  useEffect(() => {
    const title = NAV.find(([hash]) => hash === `#/${head || ""}`)?.[1] || head || "Home";
    document.title = `${title[0].toUpperCase()}${title.slice(1)} · Backbeat`;
  }, [head]);
  switch (head) {
    case undefined:
      return <HomePage />;
    case "search":
      return <SearchPage q={route.query.get("q") || ""} />;
    case "artist":
      return <ArtistPage id={id} />;
    case "album":
      return <AlbumPage id={id} />;
    case "playlists":
      return <PlaylistsPage />;
    case "playlist":
      return <PlaylistPage id={id} me={me} key={id} />;
    case "discover":
      return <DiscoverPage />;
    case "trending":
      return <TrendingPage />;
    case "recent":
      return <RecentPage />;
    case "invitations":
      return <InvitationsPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at {location.hash}. <a href="#/">Go home</a>.
          </p>
        </section>
      );
  }
}

function Messages() {
  const messages = useMessages();
  return (
    <div class="messages" aria-live="assertive">
      {messages.map((message) => (
        <p key={message.id} class={message.kind} role={message.kind === "error" ? "alert" : "status"}>
          {message.text}{" "}
          <button type="button" class="small" aria-label="Dismiss message" onClick={() => dismiss(message.id)}>
            ✕
          </button>
        </p>
      ))}
    </div>
  );
}

/** Stop playback (reported as a skip), send what is queued while the token still works, then log out. */
async function logOut(): Promise<void> {
  player.stop();
  await Promise.race([flush(), new Promise((resolve) => window.setTimeout(resolve, 3_000))]);
  logout();
  location.hash = "#/";
}

function App() {
  const [session, setSession] = useState<Session | null>(currentSession());
  const [reason, setReason] = useState<string | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const route = useRoute();
  useInvitationPolling(session?.email);

  useEffect(
    () =>
      onSession((next, why) => {
        setSession(next);
        if (!next) {
          player.stop();
          setMe(null);
          setReason(why || null);
        }
      }),
    [],
  );
  useEffect(() => {
    if (!session) return;
    setReason(null);
    request<Me>("GET", "/me").then(setMe, (error) => say(describe(error)));
    void flush(); // plays queued while offline or logged out go out now
    const idle = window.setTimeout(() => void loadHls(), 1_500); // ready before the first play
    return () => window.clearTimeout(idle);
  }, [session?.email]);
  useEffect(() => {
    const down = () => say(networkMessage());
    window.addEventListener("offline", down);
    return () => window.removeEventListener("offline", down);
  }, []);

  if (!session) return <LoginPage reason={reason} />;
  const here = `#/${route.path[0] || ""}`;
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Backbeat
        </a>
        <SearchBox initial={route.path[0] === "search" ? route.query.get("q") || "" : ""} />
        <nav aria-label="Main">
          <ul>
            {NAV.map(([hash, label]) => (
              <li key={hash}>
                <a href={hash} aria-current={here === hash ? "page" : undefined}>
                  {label}
                  {hash === "#/invitations" && <InvitationBadge />}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="account">
          <span class="sub" data-testid="account">
            {session.email}
            {me ? ` (${me.tier})` : ""}
          </span>{" "}
          <button type="button" onClick={() => void logOut()}>
            Log out
          </button>
        </div>
      </header>
      <Messages />
      <main id="main" tabIndex={-1}>
        <Page me={me} />
      </main>
      <PlayerBar />
    </>
  );
}

(window as unknown as { backbeatPlayer: typeof player }).backbeatPlayer = player; // for tests and benchmarks

void loadConfig().then(() => render(<App />, document.getElementById("app")!));
