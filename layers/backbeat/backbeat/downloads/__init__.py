"""Offline downloads: devices, quotas and download requests; preparation (encrypted renditions),
content keys under KMS envelope encryption, and device-bound licenses."""
