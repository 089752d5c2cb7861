"""The story index's interface: find without side effects, add after commit, prune by window."""

import gc

from tracker.stories.index import Joined, Report, StoryIndex

DAY = 86400.0


def report(key: int, title: str, at: float, url: str | None = None) -> Report:
    return Report(key=key, title=title, text="", lang="en", published_at=at, canonical_url=url)


def test_find_does_not_add_and_add_makes_it_findable() -> None:
    index = StoryIndex()
    first = report(1, "Mexico and US open talks", 0.0, "https://a.example/1")
    assert index.find(first) is None
    assert len(index) == 0
    index.add(first, story=7)
    same_url = report(2, "Another headline", 3600.0, "https://a.example/1")
    assert index.find(same_url) == Joined(7, "url", 1)


def test_outside_the_window_is_a_new_story_and_prune_forgets() -> None:
    index = StoryIndex(window_s=DAY)
    index.add(report(1, "Talks open", 0.0), story=1)
    assert index.find(report(2, "Talks open", 2 * DAY)) is None
    assert index.prune(now=2 * DAY) == 1
    assert len(index) == 0


def test_describe_names_the_match_and_shared_terms() -> None:
    joined = Joined(3, "entities", 12, 0.83, ("peña nieto", "videgaray"))
    assert joined.describe() == "entities 0.83 with #12 (peña nieto, videgaray)"


def test_empty_shares_the_weigher_and_window_but_no_reports() -> None:
    """A transaction's pending index weighs words with the committed index's lexicon (the
    config's lists included) and memo, instead of building them again per feed."""
    lists = {"wall": ["border wall", "muro fronterizo"]}
    index = StoryIndex(window_s=DAY, lists=lists)
    index.add(report(1, "Border wall contracts signed in Texas", 0.0), story=1)
    pending = index.empty()
    assert pending.weigher is index.weigher and pending.window_s == DAY
    assert len(pending) == 0
    later = report(2, "Border wall contracts signed in Texas, officials say", 600.0)
    assert pending.find(later) is None  # the committed report is not in it
    pending.add(report(3, "Border wall contracts signed in Texas", 0.0), story=3)
    # the same report, the same decision in either index, but each names its own story
    committed, found = index.find(later), pending.find(later)
    assert committed is not None and found is not None
    assert (committed.story, found.story) == (1, 3)
    assert (found.kind, found.score) == (committed.kind, committed.score)


def test_the_index_records_are_out_of_the_collectors_sight_and_still_found() -> None:
    """A full collection holds the GIL: the window's records (100,000s) are not walked."""
    index = StoryIndex(window_s=DAY)
    for key in (1, 2, 3):  # one story of three reports: its member list too
        index.add(report(key, "Mexico and US open talks on steel tariffs", 0.0), story=7)
    index.add(report(4, "Floods close the port of Veracruz", 0.0), story=8)
    records = [*index._entries.values(), *(e.features for e in index._entries.values())]
    lists = [
        *index._postings.values(),
        *(m for m in index._members.values() if isinstance(m, list)),
    ]
    assert len(lists) > 2 and not any(gc.is_tracked(o) for o in records + lists)
    gc.collect()
    assert index.find(report(5, "Mexico and US open talks on steel tariffs", 60.0)) is not None
    assert index.prune(now=2 * DAY) == 4
    assert len(index) == 0
