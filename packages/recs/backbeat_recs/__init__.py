"""Backbeat's recommendation training: what the weekly workflow runs and the offline benchmark measures."""
