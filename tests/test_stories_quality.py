"""Same-story quality floors on the labelled sets (bench/stories_quality.py prints them all).

Precision comes first (merging two events hides news): every tuning set's precision floor is
the issue's target, 0.98, or what the set reaches when that is higher. Recall floors are
what the index reaches today, a little below, so a change that loses recall fails here too;
the recall targets (>= 0.90 on wire reprints, >= 0.80 on independent reports, >= 0.60
across languages) are not all met, and bench/stories_quality.py reports how far off each is.
"""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import stories_quality

# set -> (pairwise precision floor, pairwise recall floor, B-cubed F1 floor)
FLOORS = {
    "reprints": (0.98, 0.95, 0.98),
    "newslookup": (0.98, 0.85, 0.98),
    "sts2013": (0.98, 0.60, 0.95),
    "msr": (1.00, 0.78, 0.93),
    "xling-dev": (1.00, 0.17, 0.58),
    # both dev sets with every event starting at once, so every distinct pair is close:
    # 261e42f's looser rules (held-out precision 0.705) fall to 0.862 here
    "xling-stress": (1.00, 0.08, 0.50),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_quality_floor(name: str) -> None:
    precision, recall, f1 = FLOORS[name]
    result = stories_quality.score(name, stories_quality.sets()[name]())
    assert result.precision >= precision, result.row()
    assert result.recall >= recall, result.row()
    assert result.b_f1 >= f1, result.row()


def test_heldout_cross_language_floor() -> None:
    """The held-out set (never tuned on, though seen four times in all while tuning earlier
    rules): precision 1.00 and recall 0.08 since the precision-first rules (before them
    0.62 and 0.30), so this guards the precision and against losing the little recall."""
    result = stories_quality.score("xling-test", stories_quality.sets(heldout=True)["xling-test"]())
    assert result.precision >= 0.98, result.row()
    assert result.recall >= 0.07, result.row()


def test_scores_count_pairs_and_bcubed_by_hand() -> None:
    """Three reports: two copies of one story and one other, all kept apart."""
    from tracker.stories.index import Report

    universe = [
        stories_quality.Item("a", Report(1, "Quake hits Chile", "", "en", 0.0)),
        stories_quality.Item("a", Report(2, "Lakers beat Celtics", "", "en", 1.0)),
        stories_quality.Item("b", Report(3, "Budget vote delayed", "", "en", 2.0)),
    ]
    result = stories_quality.score("hand", [universe])
    assert (result.tp, result.fp, result.fn) == (0, 0, 1)
    assert result.precision == 1.0 and result.recall == 0.0
    # B-cubed: every item alone in its cluster: precision 1; recall 1/2, 1/2, 1
    assert result.b_precision == 1.0
    assert result.b_recall == pytest.approx((0.5 + 0.5 + 1.0) / 3)
