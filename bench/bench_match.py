"""Benchmark the compiled topic matcher against a naive per-topic regex loop.

Synthetic but news-shaped data, fully seeded: a 50,000-word vocabulary (some words
accented), articles of ~40 words (title + summary) drawn from a Zipf distribution,
and topics whose terms are drawn uniformly by frequency rank from ranks 200-50,000
(mid-frequency to rare words, as topic terms are), mixing AND/OR/NOT, phrases,
prefix wildcards and NEAR. Prints a table of medians over several repetitions, each
measurement after one untimed warm-up run; the last column is the fast matcher with
``explain=False`` (no terms or snippets), and the run fails if the fast and naive
matchers ever disagree on which topics match.

    python bench/bench_match.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tracker.models import MatchInput, TopicSpec
from tracker.text import WORD_RE, fold
from tracker.topics.matcher import Matcher
from tracker.topics.query import And, Near, Node, Not, Or, Term, parse

SEED = 20240611
VOCAB_SIZE = 50_000
TOPIC_RANKS = (200, VOCAB_SIZE)
TARGET_RATE = 20_000
TARGET_SCALING = 5.0

# ---------------------------------------------------------------------------- data

_ONSETS = (*"bcdfgklmnprstvz", "br", "tr", "pl", "ch")
_VOWELS = "aeiou"
_ACCENTED = dict(zip("aeiou", "áéíóú", strict=True))


def make_vocab(rng: random.Random) -> list[str]:
    """Distinct pronounceable words, ~1 in 6 accented as in Spanish; index = frequency rank."""
    seen: set[str] = set()
    vocab: list[str] = []
    while len(vocab) < VOCAB_SIZE:
        syllables = rng.choices([1, 2, 3, 4], weights=[1, 4, 4, 2])[0]
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables))
        if rng.random() < 0.3:
            word += rng.choice("nslr")
        if rng.random() < 0.15 and len(vocab) >= 100:  # the commonest words stay plain
            i = max(i for i, c in enumerate(word) if c in _ACCENTED)
            word = word[:i] + _ACCENTED[word[i]] + word[i + 1 :]
        if rng.random() < 0.02 and len(vocab) >= 100:
            word = word.replace("n", "ñ", 1)
        key = fold(word)
        if key not in seen:
            seen.add(key)
            vocab.append(word)
    return vocab


def zipf_weights(size: int) -> list[float]:
    """Cumulative Zipf-Mandelbrot weights (s = 1.0, q = 2.7), as news text roughly is."""
    total = 0.0
    cumulative = []
    for rank in range(size):
        total += 1.0 / (rank + 2.7)
        cumulative.append(total)
    return cumulative


def make_articles(rng: random.Random, vocab: list[str], count: int) -> list[MatchInput]:
    cum = zipf_weights(len(vocab))

    def sentence(n: int) -> str:
        words = rng.choices(vocab, cum_weights=cum, k=n)
        words = [w.capitalize() if rng.random() < 0.2 else w for w in words]
        for i in range(3, n - 1, rng.randint(5, 9)):
            words[i] += rng.choice([",", ".", ";", " -", ":"])
        return " ".join(words)

    return [
        MatchInput(
            title=sentence(rng.randint(8, 14)),
            summary=sentence(rng.randint(24, 34)) + ".",
            feed=rng.choice(["Reuters", "AP", "El Universal", "La Jornada"]),
            lang=rng.choice(["en", "es", "es-MX"]),
        )
        for _ in range(count)
    ]


class QueryMaker:
    """Random topic queries in the shapes people write."""

    def __init__(self, rng: random.Random, vocab: list[str]) -> None:
        self.rng = rng
        self.vocab = vocab

    def word(self) -> str:
        return self.vocab[self.rng.randrange(*TOPIC_RANKS)]

    def term(self) -> str:
        roll = self.rng.random()
        if roll < 0.12:
            return f'"{self.word()} {self.word()}"'
        if roll < 0.22:
            return self.stem() + "*"
        return self.word()

    def stem(self) -> str:
        """A wildcard stem as people write them (tariff*): a long word minus its ending."""
        word = fold(self.word())
        while len(word) < 8:
            word = fold(self.word())
        return word[: len(word) - self.rng.randint(1, 2)]

    def alternatives(self, n: int) -> str:
        return "(" + " OR ".join(self.term() for _ in range(n)) + ")"

    def query(self) -> str:
        r = self.rng
        shapes: list[Callable[[], str]] = [
            lambda: self.term(),
            lambda: f"{self.term()} {self.term()}",
            lambda: f'"{self.word()} {self.word()}"',
            lambda: (
                f"{self.alternatives(r.randint(2, 4))} NEAR/{r.randint(2, 10)} "
                f"{self.alternatives(r.randint(1, 3))}"
            ),
            lambda: (
                f'"{self.word()} {self.word()}" OR {self.term()} OR '
                f"({self.word()} NEAR/5 {self.alternatives(3)}) NOT {self.term()}"
            ),
            lambda: f"{self.term()} AND {self.alternatives(r.randint(2, 3))} NOT {self.term()}",
            lambda: f"{self.alternatives(2)} AND {self.alternatives(2)}",
            lambda: f"{self.term()} OR {self.term()} OR {self.term()}",
        ]
        weights = [8, 15, 10, 15, 12, 20, 10, 10]
        return r.choices(shapes, weights=weights)[0]()


def make_topics(rng: random.Random, vocab: list[str], count: int) -> list[TopicSpec]:
    maker = QueryMaker(rng, vocab)
    return [TopicSpec(f"topic{i}", maker.query()) for i in range(count)]


# ---------------------------------------------------------------------------- naive baseline

_FieldSpans = list[tuple[int, int, int]]


class NaiveMatcher:
    """The obvious approach: for each topic, search each term's regex in the folded text."""

    def __init__(self, topics: Sequence[TopicSpec]) -> None:
        self.topics = [(t.name, parse(t.query)) for t in topics]
        self.regexes: dict[Term, re.Pattern[str]] = {}
        for _, node in self.topics:
            self._compile(node)

    def _compile(self, node: Node) -> None:
        if isinstance(node, Term):
            parts = [re.escape(w.text) + (r"[^\W_]*" if w.prefix else "") for w in node.words]
            pattern = r"(?<![^\W_])" + r"[\W_]+".join(parts) + r"(?![^\W_])"
            self.regexes[node] = re.compile(pattern)
        elif isinstance(node, Not):
            self._compile(node.child)
        elif isinstance(node, And | Or):
            for child in node.children:
                self._compile(child)
        elif isinstance(node, Near):
            self._compile(node.left)
            self._compile(node.right)

    def match(self, doc: MatchInput) -> list[str]:
        fields = [fold(doc.title), fold(doc.summary)]
        starts = [[m.start() for m in WORD_RE.finditer(f)] for f in fields]
        return [name for name, node in self.topics if self._holds(node, fields, starts)]

    def _holds(self, node: Node, fields: list[str], starts: list[list[int]]) -> bool:
        if isinstance(node, Term):
            return any(self.regexes[node].search(f) for f in fields)
        if isinstance(node, Not):
            return not self._holds(node.child, fields, starts)
        if isinstance(node, And):
            return all(self._holds(c, fields, starts) for c in node.children)
        if isinstance(node, Or):
            return any(self._holds(c, fields, starts) for c in node.children)
        return bool(self._spans(node, fields, starts))

    def _spans(self, node: Node, fields: list[str], starts: list[list[int]]) -> _FieldSpans:
        if isinstance(node, Term):
            return [
                (i, bisect_left(starts[i], m.start()), bisect_right(starts[i], m.end() - 1) - 1)
                for i, text in enumerate(fields)
                for m in self.regexes[node].finditer(text)
            ]
        if isinstance(node, Or):
            return [s for c in node.children for s in self._spans(c, fields, starts)]
        assert isinstance(node, Near)
        n = node.distance
        return [
            (a[0], min(a[1], b[1]), max(a[2], b[2]))
            for a in self._spans(node.left, fields, starts)
            for b in self._spans(node.right, fields, starts)
            if a[0] == b[0] and (1 <= b[1] - a[2] <= n or 1 <= a[1] - b[2] <= n)
        ]


# ---------------------------------------------------------------------------- timing


def median_rate(run: Callable[[], object], articles: int, repeats: int) -> float:
    """Articles per second, median over ``repeats`` timed runs after one untimed run.

    The untimed run is the warm-up a new matcher needs (filling its word memo, compiling
    each topic on first use). Timed, it would be one of the explain column's runs (that
    column is measured first), leaving the median to four steady runs, one of which a
    full garbage collection can slow by half.
    """
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return articles / statistics.median(times)


def bench(quick: bool) -> int:
    rng = random.Random(SEED)
    vocab = make_vocab(rng)
    counts = [10, 100, 1_000, 10_000]
    fast_articles = 1_000 if quick else 5_000
    naive_articles = {10: 1_000, 100: 200, 1_000: 30} if quick else {10: 2_000, 100: 400, 1_000: 80}
    repeats = 5
    articles = make_articles(random.Random(SEED + 1), vocab, fast_articles)
    all_topics = make_topics(random.Random(SEED + 2), vocab, max(counts))

    print(f"articles: ~{_mean_words(articles):.0f} words each; repetitions: {repeats} (median)")
    header = f"{'topics':>7} {'compile s':>9} {'fast art/s':>11} {'naive art/s':>12}"
    print(header + f" {'speed-up':>9} {'hits/art':>8} {'cand/art':>8} {'no-explain/s':>12}")
    rates: dict[int, float] = {}
    failures = 0
    for count in counts:
        topics = all_topics[:count]
        start = time.perf_counter()
        matcher = Matcher.from_topics(topics)
        compile_s = time.perf_counter() - start
        rates[count] = median_rate(_runner(matcher.match, articles), len(articles), repeats)
        bare = median_rate(_runner(_unexplained(matcher), articles), len(articles), repeats)
        hits = sum(len(matcher.match(a)) for a in articles) / len(articles)
        candidates = _mean_candidates(matcher, articles)
        naive_rate = None
        if count in naive_articles:
            sample = articles[: naive_articles[count]]
            naive = NaiveMatcher(topics)
            failures += _disagreements(matcher, naive, sample)
            naive_rate = median_rate(_runner(naive.match, sample), len(sample), repeats)
        naive_cell = f"{naive_rate:12,.0f}" if naive_rate else f"{'-':>12}"
        ratio = f"{rates[count] / naive_rate:8,.0f}x" if naive_rate else f"{'-':>9}"
        print(
            f"{count:>7,} {compile_s:9.2f} {rates[count]:11,.0f} {naive_cell} {ratio} "
            f"{hits:8.2f} {candidates:8.1f} {bare:12,.0f}"
        )
    scaling = rates[counts[0]] / rates[counts[-1]]
    print(f"time({counts[-1]:,} topics) / time({counts[0]} topics) = {scaling:.2f}")
    print(
        f"targets: >= {TARGET_RATE:,} art/s at 10,000 topics: "
        f"{'met' if rates[10_000] >= TARGET_RATE else 'NOT met'}; "
        f"scaling <= {TARGET_SCALING}: {'met' if scaling <= TARGET_SCALING else 'NOT met'}"
    )
    if failures:
        print(f"ERROR: fast and naive matchers disagreed on {failures} article(s)")
        return 1
    return 0


def _runner(
    match: Callable[[MatchInput], object], articles: Sequence[MatchInput]
) -> Callable[[], object]:
    return lambda: [match(article) for article in articles]


def _unexplained(matcher: Matcher) -> Callable[[MatchInput], object]:
    return lambda article: matcher.match(article, explain=False)


def _mean_words(articles: Sequence[MatchInput]) -> float:
    return sum(len(WORD_RE.findall(a.title + " " + a.summary)) for a in articles) / len(articles)


def _mean_candidates(matcher: Matcher, articles: Sequence[MatchInput]) -> float:
    """How many topics the anchor index hands to evaluation, per article."""
    return sum(matcher.candidate_count(a) for a in articles) / len(articles)


def _disagreements(matcher: Matcher, naive: NaiveMatcher, articles: Sequence[MatchInput]) -> int:
    bad = 0
    for article in articles:
        fast = [hit.topic for hit in matcher.match(article)]
        slow = naive.match(article)
        if fast != slow:
            bad += 1
            print(f"  mismatch: fast={fast} naive={slow} title={article.title!r}")
    return bad


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer articles, for a smoke run")
    return bench(parser.parse_args(argv).quick)


if __name__ == "__main__":
    sys.exit(main())
