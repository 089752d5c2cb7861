"""The compiled topic matcher: all topics in one pass per article."""

from tracker.topics.matcher.runtime import Matcher, evaluate_reference

__all__ = ["Matcher", "evaluate_reference"]
