// The API's shapes the player reads (docs/api.md).

export interface Ref {
  id: string;
  name?: string;
  title?: string;
  type?: string;
}

export interface Song {
  id: string;
  title: string;
  artist: { id: string; name: string };
  album: { id: string; title: string; type?: string };
  durationMs: number;
  trackNumber?: number;
}

export interface AlbumItem {
  id: string;
  title: string;
  type?: string;
  artist: { id: string; name: string };
  trackCount?: number;
}

export interface ArtistItem {
  id: string;
  name: string;
  songCount?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface PlaylistItem {
  itemId: string;
  songId: string;
  addedBy: string;
  addedAt: string;
}

export interface Playlist {
  id: string;
  name: string;
  description?: string;
  isPublic: boolean;
  isCollaborative: boolean;
  ownerId: string;
  collaborators: string[];
  version: number;
  snapshotId: string;
  tracks: { items?: PlaylistItem[]; total: number };
}

export interface Manifest {
  songId: string;
  durationMs: number;
  loudness: { integratedLufs: number; truePeakDb: number; gainDb: number };
  renditions: { bitrateKbps: number; codec: string; playlistUrl: string }[];
  masterPlaylistUrl: string;
  startBitrateKbps: number;
  expiresAt: string;
}

export interface Me {
  userId: string;
  email: string;
  tier: string;
}

export type PlayContext = { type: string; id?: string };
