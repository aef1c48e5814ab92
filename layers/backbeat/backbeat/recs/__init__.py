"""Recommendations: candidate generators, blending, re-ranking, Discover Weekly."""
