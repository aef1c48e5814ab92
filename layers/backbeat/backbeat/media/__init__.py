"""Audio masters -> adaptive streaming renditions: probing, loudness, the ladder and the song's
encoding status in the catalog (the `encode` state machine's steps)."""
