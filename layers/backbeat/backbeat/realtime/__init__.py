"""Real time: WebSocket connections, playlist subscriptions and the fan-out of playlist changes."""
