"""The compiled topic matcher: all topics in one pass per article."""

from tracker.topics.matcher.runtime import Matcher, check_query, evaluate_reference

__all__ = ["Matcher", "check_query", "evaluate_reference"]
