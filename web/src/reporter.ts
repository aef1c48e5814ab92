// Playback reporting (POST /events/playback): every event goes to an outbox in localStorage first,
// then out in batches of up to 100; what the network did not take stays queued (offline too) and is
// sent again later with the same eventId, so the service counts it once.

import { ApiError, currentSession, request } from "./api";
import type { PlayContext } from "./types";

export type EventType = "start" | "progress" | "pause" | "resume" | "seek" | "skip" | "end";

interface PlaybackEvent {
  eventId: string;
  playId: string;
  type: EventType;
  songId: string;
  positionMs: number;
  playedMs: number;
  bitrateKbps: number;
  deviceId: string;
  deviceType: "web";
  context: PlayContext;
  occurredAt: string;
}

interface Result {
  eventId: string;
  status: "accepted" | "duplicate" | "rejected" | "retry";
}

const OUTBOX_KEY = "backbeat.outbox."; // + the listener's email: events are sent with their own token
const DEVICE_KEY = "backbeat.device";
const FLUSH_EVERY_MS = 5_000;
const MAX_BATCH = 100;
const MAX_QUEUED = 5_000; // a week offline at most; the oldest go first past that

export function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // pages served over plain http on a LAN
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function deviceId(): string {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = `web-${uuid()}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

function outboxKey(): string | null {
  const session = currentSession();
  return session ? OUTBOX_KEY + session.email : null;
}

function readOutbox(): PlaybackEvent[] {
  const key = outboxKey();
  if (!key) return [];
  try {
    return JSON.parse(localStorage.getItem(key) || "[]") as PlaybackEvent[];
  } catch {
    return [];
  }
}

function writeOutbox(events: PlaybackEvent[]): void {
  const key = outboxKey();
  if (key) localStorage.setItem(key, JSON.stringify(events.slice(-MAX_QUEUED)));
}

export type OutboxState = { queued: number; offline: boolean };
const listeners = new Set<(state: OutboxState) => void>();
let offline = false;
let flushing: Promise<void> | null = null;

export function onOutbox(listener: (state: OutboxState) => void): () => void {
  listeners.add(listener);
  listener({ queued: readOutbox().length, offline });
  return () => listeners.delete(listener);
}

function notify(): void {
  const state = { queued: readOutbox().length, offline };
  listeners.forEach((listener) => listener(state));
}

export function pendingEvents(): number {
  return readOutbox().length;
}

/** Send what is queued, oldest first; stops at the first batch the network refuses. */
export function flush(): Promise<void> {
  if (flushing) return flushing;
  const send = async (): Promise<void> => {
    while (currentSession()) {
      const batch = readOutbox().slice(0, MAX_BATCH);
      if (!batch.length) break;
      let answer: { results: Result[] };
      try {
        answer = await request<{ results: Result[] }>("POST", "/events/playback", { events: batch }, true, {
          keepalive: true,
        });
      } catch (error) {
        if (error instanceof ApiError && error.status === 422) {
          // a batch the service cannot read at all: drop it rather than block every later play
          dropEvents(new Set(batch.map((e) => e.eventId)));
          continue;
        }
        offline = error instanceof ApiError && error.status === 0;
        break;
      }
      offline = false;
      const settled = new Set(answer.results.filter((r) => r.status !== "retry").map((r) => r.eventId));
      dropEvents(settled);
      if (settled.size < batch.length) break; // the stream took only part: retry on the next tick
    }
  };
  // Cleared in a callback that always runs later, even when `send` finishes without waiting.
  flushing = send().finally(() => {
    flushing = null;
    notify();
  });
  return flushing;
}

function dropEvents(ids: Set<string>): void {
  writeOutbox(readOutbox().filter((event) => !ids.has(event.eventId)));
}

/** One play of one song: start, progress every 15 s, pause/resume/seek, then skip or end. */
export class PlayReport {
  readonly playId = uuid();
  private playedMs = 0;
  private lastTick: number | null = null;
  private sinceProgress = 0;
  private finished = false;
  private started = false;

  constructor(
    private readonly songId: string,
    private readonly durationMs: number,
    private readonly context: PlayContext,
  ) {}

  /** Called while audio plays (timeupdate): counts listened time, and a progress event every 15 s. */
  tick(positionMs: number, bitrateKbps: number): void {
    const now = performance.now();
    if (this.lastTick !== null) {
      const delta = Math.min(now - this.lastTick, 2_000); // a stall or a hidden tab is not listening
      this.playedMs += delta;
      this.sinceProgress += delta;
    }
    this.lastTick = now;
    if (this.sinceProgress >= 15_000) {
      this.sinceProgress = 0;
      this.emit("progress", positionMs, bitrateKbps);
    }
  }

  /** Playback stopped advancing (pause, seek, buffering): the next tick starts counting afresh. */
  halt(): void {
    this.lastTick = null;
  }

  emit(type: EventType, positionMs: number, bitrateKbps: number): void {
    if (this.finished) return;
    if (type === "start") {
      if (this.started) return;
      this.started = true;
    } else if (!this.started) {
      return;
    }
    if (type === "skip" || type === "end") this.finished = true;
    const limit = this.durationMs || Number.MAX_SAFE_INTEGER;
    const event: PlaybackEvent = {
      eventId: uuid(),
      playId: this.playId,
      type,
      songId: this.songId,
      positionMs: Math.max(0, Math.min(Math.round(positionMs), limit)),
      playedMs: Math.max(0, Math.min(Math.round(this.playedMs), limit)),
      bitrateKbps: Math.max(1, Math.round(bitrateKbps) || 1),
      deviceId: deviceId(),
      deviceType: "web",
      context: this.context,
      occurredAt: new Date().toISOString(),
    };
    writeOutbox([...readOutbox(), event]);
    notify();
    if (type !== "progress") scheduleSoon();
  }

  get isFinished(): boolean {
    return this.finished;
  }
}

let soon: number | undefined;
function scheduleSoon(): void {
  window.clearTimeout(soon);
  soon = window.setTimeout(() => void flush(), 1_000); // gather a burst (skip + start) into one batch
}

window.setInterval(() => void flush(), FLUSH_EVERY_MS);
window.addEventListener("online", () => void flush());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") void flush();
});
