"""The feeds slice's real dependencies: the one place its use cases meet their adapters (the feed
table and the feed files in S3), built per call from the settings read once per process."""

from __future__ import annotations

from cardops.feeds.store import FeedFiles, FeedStore, batch_writer
from cardops.feeds.use_cases.card_lines import CardLines
from cardops.feeds.use_cases.sync import Deps, FeedSync


def card_lines() -> CardLines:
    return CardLines(FeedStore())


def feed_sync(*, batched: bool = False) -> FeedSync:
    """``batched``: lines are written with ``BatchWriteItem``, which only the scheduled sync
    function's role may call; the admin API's on-demand run puts line by line."""
    store = FeedStore(batch_writer()) if batched else FeedStore()
    return FeedSync(Deps(files=FeedFiles(), directory=store, lines=store, state=store))
