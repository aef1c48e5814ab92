// Live playlists over the WebSocket API: subscribe, apply each change in version order (the rules of
// backbeat_client.replay; `playlist.changes` carries several in one message), ask for a resync from the first missing version when one is skipped or the
// connection dropped, and reconnect with a back-off.

import { currentSession, getConfig } from "./api";
import type { PlaylistItem } from "./types";

export interface LiveState {
  version: number;
  name: string;
  isCollaborative: boolean;
  isPublic: boolean;
  description: string;
  collaborators: string[];
  items: PlaylistItem[];
  deleted: boolean;
}

type Op = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The state after change `version`, or null when it does not follow (the caller resyncs). */
export function applyChange(state: LiveState, version: number, op: Op): LiveState | null {
  if (version !== state.version + 1) return null;
  const next: LiveState = { ...state, version, items: state.items.slice(), collaborators: state.collaborators.slice() };
  switch (op.type) {
    case "playlist.created":
      Object.assign(next, { name: op.name, isCollaborative: op.isCollaborative, isPublic: op.isPublic });
      break;
    case "details.updated":
      Object.assign(next, op.changes);
      break;
    case "tracks.added":
      next.items.splice(op.position, 0, ...(op.items as PlaylistItem[]));
      break;
    case "tracks.removed": {
      const gone = new Set<string>(op.itemIds);
      next.items = next.items.filter((item) => !gone.has(item.itemId));
      break;
    }
    case "tracks.moved": {
      const { rangeStart: start, insertBefore: before, rangeLength: length } = op;
      const moving = next.items.slice(start, start + length);
      const rest = [...next.items.slice(0, start), ...next.items.slice(start + length)];
      const at = before > start ? before - length : before;
      next.items = [...rest.slice(0, at), ...moving, ...rest.slice(at)];
      break;
    }
    case "collaborator.added": // an invitation accepted
      if (!next.collaborators.includes(op.userId)) next.collaborators.push(op.userId);
      break;
    case "collaborator.removed":
      next.collaborators = next.collaborators.filter((id) => id !== op.userId);
      break;
    case "playlist.deleted":
      next.deleted = true;
      break;
    default:
      break; // a change this player does not know: the version still moves on
  }
  return next;
}

export type Connection = "connecting" | "live" | "reconnecting";

/** One playlist followed live: `onState` gets each new state, `onConnection` the socket's health. */
export class LivePlaylist {
  private socket: WebSocket | null = null;
  private pending = new Map<number, Op>(); // changes that arrived ahead of a missing one
  private retry = 0;
  private timer: number | undefined;
  private closed = false;
  private resyncing = false;

  constructor(
    private readonly playlistId: string,
    private state: LiveState,
    private readonly onState: (state: LiveState) => void,
    private readonly onConnection: (connection: Connection) => void,
  ) {
    this.connect();
  }

  /** A change this client made and the API confirmed: applied at once if it is the next version. */
  local(version: number, op: Op): void {
    this.receive([[version, op]]);
  }

  get current(): LiveState {
    return this.state;
  }

  close(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.socket?.close();
  }

  /** Drop the connection now (as a network would), to show the resync; it reconnects by itself. */
  drop(): void {
    this.socket?.close();
  }

  private connect(): void {
    const session = currentSession();
    if (this.closed || !session) return;
    this.onConnection(this.retry ? "reconnecting" : "connecting");
    const socket = new WebSocket(`${getConfig().wsUrl}?token=${encodeURIComponent(session.accessToken)}`);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ action: "subscribe", playlistId: this.playlistId }));
    socket.onmessage = (message) => this.handle(JSON.parse(String(message.data)));
    socket.onclose = () => {
      if (this.socket !== socket || this.closed) return;
      this.onConnection("reconnecting");
      const wait = Math.min(10_000, 500 * 2 ** this.retry++);
      this.timer = window.setTimeout(() => this.connect(), wait);
    };
  }

  private handle(message: Op): void {
    if (message.playlistId && message.playlistId !== this.playlistId) return;
    if (message.type === "subscribed") {
      this.retry = 0;
      this.onConnection("live");
      if (message.version > this.state.version) this.resync(); // missed while away
    } else if (message.type === "playlist.changed") {
      this.receive([[message.version, message.op]]);
    } else if (message.type === "playlist.changes") {
      this.receive((message.changes as Op[]).map((change) => [change.version, change.op]));
    } else if (message.type === "resynced") {
      this.resyncing = false;
      if ((message.latestVersion ?? message.version) > this.state.version) this.resync();
    }
  }

  private receive(changes: [number, Op][]): void {
    const fresh = changes.filter(([version]) => version > this.state.version); // others: already have them
    if (!fresh.length) return;
    for (const [version, op] of fresh) this.pending.set(version, op);
    let changed = false;
    for (let next = this.state.version + 1; this.pending.has(next); next++) {
      const applied = applyChange(this.state, next, this.pending.get(next)!);
      this.pending.delete(next);
      if (!applied) break;
      this.state = applied;
      changed = true;
    }
    if (changed) this.onState(this.state);
    if (this.pending.size) this.resync();
  }

  private resync(): void {
    if (this.resyncing || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    this.resyncing = true;
    this.socket.send(JSON.stringify({ action: "resync", playlistId: this.playlistId, fromVersion: this.state.version + 1 }));
  }
}
