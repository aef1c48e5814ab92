"""The candidate generators, one module per source; each answers `candidates(context, model, limit)`
(`backbeat.recs.types.Generator`) from the promoted model (`backbeat.recs.artefacts.RecsModel`)."""

from __future__ import annotations

from backbeat.recs.generators.collaborative import CollaborativeGenerator
from backbeat.recs.generators.content import ContentGenerator
from backbeat.recs.generators.exploration import ExplorationGenerator
from backbeat.recs.generators.tags import TagsGenerator
from backbeat.recs.generators.trending import TrendingGenerator

__all__ = [
    "CollaborativeGenerator",
    "ContentGenerator",
    "ExplorationGenerator",
    "TagsGenerator",
    "TrendingGenerator",
]
