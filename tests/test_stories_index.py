"""The story index's interface: find without side effects, add after commit, prune by window."""

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
