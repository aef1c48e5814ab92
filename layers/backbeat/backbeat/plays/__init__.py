"""The listening loop: playback events in, play records with verdicts, counters, taste, history."""
