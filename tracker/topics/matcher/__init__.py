"""The compiled topic matcher: every topic in one pass per article.

One module per job, in the order an article meets them:

- ``scan``: the article's words to key hits (the one Aho-Corasick automaton);
- ``plan``: key ids, anchors, required keys and each topic's test expression;
- ``codegen``: tests and explanations compiled into Python functions;
- ``article`` and ``spans``: what that generated code reads, word and phrase spans, NEAR;
- ``snippets``: the excerpt a match shows;
- ``runtime``: ``Matcher``, which runs them for all topics;
- ``reference``: the slow, plain evaluator the property tests compare against.

The query language itself is ``tracker.topics.query``.
"""

from tracker.topics.matcher.reference import evaluate_reference
from tracker.topics.matcher.runtime import Matcher

__all__ = ["Matcher", "evaluate_reference"]
