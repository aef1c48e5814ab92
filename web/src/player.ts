// The player: a queue of songs, each played from its StreamManifest with hls.js (loaded on first
// play) at the manifest's start rung, never above the rungs it grants (the tier's cap), through a Web
// Audio gain node set to the song's loudness gain; every state change is reported (reporter.ts).

import type HlsType from "hls.js";
import { ApiError, describe, request } from "./api";
import { PlayReport } from "./reporter";
import type { Manifest, PlayContext, Song } from "./types";

export interface PlayerState {
  queue: Song[];
  index: number;
  current: Song | null;
  playing: boolean;
  loading: boolean;
  positionS: number;
  durationS: number;
  bitrateKbps: number | null;
  capKbps: number | null;
  gainDb: number | null;
  error: string | null;
}

type HlsModule = typeof import("hls.js");
let hlsModule: Promise<HlsModule> | null = null;
export function loadHls(): Promise<HlsModule> {
  hlsModule ??= import("hls.js");
  return hlsModule;
}

/** The rung's nominal bitrate (from its playlist name, master_128k.m3u8), else the declared BANDWIDTH. */
function rungKbps(level: { bitrate: number; url?: string[]; uri?: string }): number {
  const url = level.uri || level.url?.[0] || "";
  const named = /_(\d+)k\.m3u8/.exec(url);
  return named ? Number(named[1]) : Math.round(level.bitrate / 1000);
}

const QUALITY = "very_high"; // ask for the best: the service caps it at the tier's rung

export class Player {
  readonly audio = new Audio();
  private hls: HlsType | null = null;
  private audioContext: AudioContext | null = null;
  private gainNode: GainNode | null = null;
  private report: PlayReport | null = null;
  private context: PlayContext = { type: "search" };
  private listeners = new Set<(state: PlayerState) => void>();
  private loadToken = 0;
  state: PlayerState = {
    queue: [],
    index: -1,
    current: null,
    playing: false,
    loading: false,
    positionS: 0,
    durationS: 0,
    bitrateKbps: null,
    capKbps: null,
    gainDb: null,
    error: null,
  };

  constructor() {
    this.audio.preload = "auto";
    const a = this.audio;
    a.addEventListener("playing", () => {
      this.report?.emit("start", this.positionMs(), this.bitrate());
      this.set({ playing: true, loading: false });
    });
    a.addEventListener("pause", () => {
      this.report?.halt();
      if (!a.ended && this.report && !this.report.isFinished && !a.seeking) {
        this.report.emit("pause", this.positionMs(), this.bitrate());
      }
      this.set({ playing: false });
    });
    a.addEventListener("play", () => {
      if (this.report && a.currentTime > 0.5) this.report.emit("resume", this.positionMs(), this.bitrate());
    });
    a.addEventListener("timeupdate", () => {
      if (!a.paused && !a.seeking) this.report?.tick(this.positionMs(), this.bitrate());
      this.set({ positionS: a.currentTime, durationS: this.durationS() });
    });
    a.addEventListener("waiting", () => this.report?.halt());
    a.addEventListener("seeking", () => this.report?.halt());
    a.addEventListener("ended", () => {
      this.report?.emit("end", this.durationS() * 1000, this.bitrate());
      this.report = null;
      if (this.state.index + 1 < this.state.queue.length) void this.playAt(this.state.index + 1);
      else this.set({ playing: false });
    });
    a.addEventListener("error", () => {
      if (!this.hls) this.set({ error: "The browser could not play this song.", loading: false });
    });
  }

  subscribe(listener: (state: PlayerState) => void): () => void {
    this.listeners.add(listener);
    listener(this.state);
    return () => this.listeners.delete(listener);
  }

  private set(change: Partial<PlayerState>): void {
    this.state = { ...this.state, ...change };
    this.listeners.forEach((listener) => listener(this.state));
  }

  private positionMs(): number {
    return this.audio.currentTime * 1000;
  }

  private durationS(): number {
    const d = this.audio.duration;
    if (Number.isFinite(d) && d > 0) return d;
    return (this.state.current?.durationMs || 0) / 1000;
  }

  private bitrate(): number {
    return this.state.bitrateKbps || 0;
  }

  /** Replace the queue with `songs` and play `songs[index]`. */
  playList(songs: Song[], index: number, context: PlayContext): Promise<void> {
    this.context = context;
    this.set({ queue: songs.slice(), index });
    return this.playAt(index);
  }

  enqueue(song: Song): void {
    this.set({ queue: [...this.state.queue, song] });
    if (!this.state.current) void this.playAt(this.state.queue.length - 1);
  }

  removeFromQueue(position: number): void {
    if (position === this.state.index) return;
    const queue = this.state.queue.filter((_, i) => i !== position);
    this.set({ queue, index: position < this.state.index ? this.state.index - 1 : this.state.index });
  }

  next(): void {
    if (this.state.index + 1 < this.state.queue.length) void this.playAt(this.state.index + 1);
  }

  previous(): void {
    if (this.audio.currentTime > 3 || this.state.index <= 0) this.seek(0);
    else void this.playAt(this.state.index - 1);
  }

  toggle(): void {
    if (!this.state.current) return;
    this.resumeAudioContext();
    if (this.audio.paused) void this.audio.play().catch((e) => this.set({ error: describe(e) }));
    else this.audio.pause();
  }

  seek(seconds: number): void {
    if (!this.state.current) return;
    const target = Math.max(0, Math.min(seconds, this.durationS() - 0.25));
    this.report?.emit("seek", target * 1000, this.bitrate());
    this.audio.currentTime = target;
    this.set({ positionS: target });
  }

  private resumeAudioContext(): void {
    if (!this.audioContext) {
      const Context = window.AudioContext || (window as unknown as { webkitAudioContext: typeof AudioContext }).webkitAudioContext;
      if (!Context) return;
      this.audioContext = new Context();
      const source = this.audioContext.createMediaElementSource(this.audio);
      this.gainNode = this.audioContext.createGain();
      source.connect(this.gainNode).connect(this.audioContext.destination);
    }
    if (this.audioContext.state === "suspended") void this.audioContext.resume();
  }

  private applyGain(gainDb: number): void {
    if (this.gainNode) this.gainNode.gain.value = Math.pow(10, gainDb / 20);
  }

  async playAt(index: number): Promise<void> {
    const song = this.state.queue[index];
    if (!song) return;
    this.resumeAudioContext(); // inside the click that asked for it, so the browser allows sound
    if (this.report && !this.report.isFinished) this.report.emit("skip", this.positionMs(), this.bitrate());
    const token = ++this.loadToken;
    this.teardown();
    this.set({ index, current: song, loading: true, playing: false, positionS: 0, error: null, bitrateKbps: null });
    try {
      const [manifest, Hls] = await Promise.all([
        request<Manifest>("POST", `/stream/${encodeURIComponent(song.id)}`, { quality: QUALITY }),
        loadHls(),
      ]);
      if (token !== this.loadToken) return;
      this.report = new PlayReport(song.id, manifest.durationMs || song.durationMs, this.context);
      const gainDb = manifest.loudness?.gainDb ?? 0;
      this.applyGain(gainDb);
      const rungs = manifest.renditions.map((r) => r.bitrateKbps).sort((a, b) => a - b);
      this.set({ gainDb, capKbps: rungs[rungs.length - 1] ?? null, bitrateKbps: manifest.startBitrateKbps });
      this.attach(Hls.default, manifest, rungs);
    } catch (error) {
      if (token !== this.loadToken) return;
      let message = describe(error);
      if (error instanceof ApiError && error.status === 409) message = `“${song.title}” is not ready to play yet (${error.message}).`;
      if (error instanceof ApiError && error.status === 404) message = `“${song.title}” is no longer in the catalog.`;
      this.set({ loading: false, error: message });
    }
  }

  private attach(Hls: typeof HlsType, manifest: Manifest, rungs: number[]): void {
    const audio = this.audio;
    if (!Hls.isSupported()) {
      if (audio.canPlayType("application/vnd.apple.mpegurl")) {
        audio.src = manifest.masterPlaylistUrl; // Safari plays HLS itself
        void audio.play().catch((e) => this.set({ error: describe(e), loading: false }));
        return;
      }
      this.set({ loading: false, error: "This browser cannot play HLS audio (no Media Source Extensions)." });
      return;
    }
    const startIndex = Math.max(0, rungs.indexOf(manifest.startBitrateKbps));
    const hls = new Hls({ startLevel: startIndex, capLevelToPlayerSize: false, maxBufferLength: 30 });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      // The master lists only the rungs the tier may play; start at the manifest's start rung.
      const levels = data.levels.map(rungKbps);
      const start = levels.findIndex((kbps) => Math.abs(kbps - manifest.startBitrateKbps) <= 8);
      if (start >= 0) hls.startLevel = start;
      hls.autoLevelCapping = levels.length - 1;
      void audio.play().catch((e) => this.set({ error: `Playback was refused by the browser: ${describe(e)}`, loading: false }));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      if (level) this.set({ bitrateKbps: rungKbps(level) });
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      const status = data.response?.code;
      if (status === 403) {
        hls.stopLoad();
        this.set({
          loading: false,
          error: `This quality is above what your plan allows (403 on a rung over ${this.state.capKbps ?? "?"} kbps). Press play to try again.`,
        });
        return;
      }
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        const offline = !navigator.onLine || !status;
        this.set({
          loading: false,
          error: offline
            ? "The network is down: playback stopped. It resumes when you press play again."
            : `The media server answered ${status}: playback stopped.`,
        });
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        this.set({ loading: false, error: `Playback failed (${data.details}).` });
      }
    });
    hls.attachMedia(audio);
    hls.loadSource(manifest.masterPlaylistUrl);
  }

  private teardown(): void {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.audio.removeAttribute("src");
  }

  /** Stop everything (log out): the play in progress is reported as skipped. */
  stop(): void {
    if (this.report && !this.report.isFinished) this.report.emit("skip", this.positionMs(), this.bitrate());
    this.report = null;
    this.loadToken++;
    this.audio.pause();
    this.teardown();
    this.set({ queue: [], index: -1, current: null, playing: false, loading: false, error: null });
  }
}

export const player = new Player();
