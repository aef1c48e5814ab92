"""The Discover Weekly state machine's map step: one batch of listeners, each given this week's
playlist (made or renewed through the playlists service; a listener already done this week is
skipped, so a retried batch does not redo its work)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import RecsServingSettings
from backbeat.observability import count, lambda_entry, logger
from backbeat.recs.backend import recommender_for, songs_played
from backbeat.recs.discover import bind_discover_weekly_table, generate_weekly

settings = RecsServingSettings()
recommender, backend = recommender_for(settings)
bind_discover_weekly_table(settings.discover_weekly_table)


class BatchFailed(Exception):
    """Some listeners of the batch failed: the map retries the batch (done ones are skipped)."""


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"userIds": [...]}``; answers how many playlists were made and how many failed."""
    made = fallbacks = 0
    failed: list[str] = []
    for user_id in event.get("userIds") or []:
        try:
            weekly = generate_weekly(
                str(user_id),
                recommender.recommend,
                backend.traits,
                lambda user: songs_played(settings.plays_table, user),
            )
        except Exception:
            logger.exception("discover weekly failed for a listener", extra={"userId": user_id})
            failed.append(str(user_id))
            continue
        made += 1
        fallbacks += weekly.fallback is not None
    count("DiscoverWeeklyMade", made)
    if failed:
        count("DiscoverWeeklyFailed", len(failed))
        raise BatchFailed(f"{len(failed)} of {made + len(failed)} listeners failed: {', '.join(failed[:5])}")
    return {"made": made, "fallbacks": fallbacks}
