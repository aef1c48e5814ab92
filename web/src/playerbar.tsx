// The player bar: what plays, its bitrate (and the tier's cap), seek, pause, previous/next, the queue.

import { useEffect, useState } from "preact/hooks";
import { onOutbox, type OutboxState } from "./reporter";
import { player, type PlayerState } from "./player";
import { formatTime } from "./ui";

export function PlayerBar() {
  const [state, setState] = useState<PlayerState>(player.state);
  const [outbox, setOutbox] = useState<OutboxState>({ queued: 0, offline: false });
  const [showQueue, setShowQueue] = useState(false);
  useEffect(() => player.subscribe(setState), []);
  useEffect(() => onOutbox(setOutbox), []);
  const song = state.current;
  const duration = state.durationS || (song ? song.durationMs / 1000 : 0);
  return (
    <section class="player" aria-label="Player">
      {state.error && (
        <p class="error" role="alert" data-testid="player-error">
          {state.error}
        </p>
      )}
      <div class="now">
        {song ? (
          <>
            <span class="title" data-testid="now-playing">
              {song.title}
            </span>{" "}
            <span class="sub">{song.artist.name}</span>
          </>
        ) : (
          <span class="sub">Nothing playing</span>
        )}
      </div>
      <div class="controls">
        <button type="button" disabled={!song} onClick={() => player.previous()}>
          Previous
        </button>
        <button type="button" disabled={!song} onClick={() => player.toggle()}>
          {state.playing ? "Pause" : "Play"}
        </button>
        <button type="button" disabled={state.index + 1 >= state.queue.length} onClick={() => player.next()}>
          Next
        </button>
        <span class="time" aria-hidden="true">
          {formatTime(state.positionS)}
        </span>
        <input
          type="range"
          class="seek"
          aria-label="Seek"
          aria-valuetext={`${formatTime(state.positionS)} of ${formatTime(duration)}`}
          min={0}
          max={Math.max(1, Math.floor(duration))}
          step={1}
          value={Math.floor(state.positionS)}
          disabled={!song}
          onChange={(e) => player.seek(Number((e.target as HTMLInputElement).value))}
        />
        <span class="time" aria-hidden="true">
          {formatTime(duration)}
        </span>
      </div>
      <div class="info">
        <span data-testid="bitrate" aria-label="Current bitrate">
          {state.loading ? "loading…" : state.bitrateKbps ? `${state.bitrateKbps} kbps` : "–"}
        </span>
        {state.capKbps && <span class="sub"> (up to {state.capKbps} kbps on your plan)</span>}
        {state.gainDb !== null && song && <span class="sub"> · gain {state.gainDb.toFixed(1)} dB</span>}
        {outbox.offline && (
          <span class="warn" role="status">
            {" "}
            · offline: {outbox.queued} plays waiting to be sent
          </span>
        )}
        <button type="button" class="small" aria-expanded={showQueue} aria-controls="queue" onClick={() => setShowQueue(!showQueue)}>
          Queue ({state.queue.length})
        </button>
      </div>
      {showQueue && (
        <ol id="queue" class="queue" aria-label="Queue">
          {state.queue.map((queued, index) => (
            <li key={`${queued.id}-${index}`} aria-current={index === state.index ? "true" : undefined}>
              <button type="button" class="link" onClick={() => void player.playAt(index)}>
                {queued.title} <span class="sub">{queued.artist.name}</span>
              </button>
              {index !== state.index && (
                <button type="button" class="small" aria-label={`Remove ${queued.title} from the queue`} onClick={() => player.removeFromQueue(index)}>
                  ✕
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
