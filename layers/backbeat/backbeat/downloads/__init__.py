"""Offline downloads: devices, download requests under exact quotas, playlist sync, preparation, licenses."""
