"""The one backoff policy, in its two configurations, and the Retry-After header."""

import random

import pytest

from tracker.backoff import Backoff, Jitter, delivery_backoff, feed_backoff, parse_retry_after


def test_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470) == 10
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("\u00b2") is None  # a digit to str.isdigit(), not to float()


def test_feeds_double_per_error_up_to_a_day() -> None:
    feeds = feed_backoff(600, 0)
    assert [feeds.delay(n) for n in (0, 1, 2, 3)] == [600, 600, 1200, 2400]
    assert feeds.delay(50) == 86400
    assert feed_backoff(2 * 86400, 0).delay(5) == 2 * 86400  # a long interval is its own cap
    # At most 2^10 × the interval, which binds before the day for short intervals.
    assert feed_backoff(60, 0).delay(50) == 60 * 1024


def test_feeds_honour_retry_after_up_to_a_week_plus_jitter() -> None:
    assert feed_backoff(600, 0).delay(1, retry_after_s=7200) == 7200
    assert feed_backoff(600, 0).delay(1, retry_after_s=30 * 86400) == 7 * 86400
    for _ in range(100):
        # The jitter is added to the whole wait, a Retry-After's too.
        assert 7200 <= feed_backoff(600, 30).delay(1, retry_after_s=7200) <= 7230


def test_deliveries_double_per_attempt_jittered_by_a_fifth() -> None:
    deliveries = delivery_backoff(30, 3600)
    for _ in range(100):
        assert 24 <= deliveries.delay(1) <= 36
        assert 48 <= deliveries.delay(2) <= 72
        assert 2880 <= deliveries.delay(30) <= 4320
        # A Retry-After is not jittered: never sooner, and at most a day.
        assert deliveries.delay(1, retry_after_s=600) == 600
        assert deliveries.delay(1, retry_after_s=7 * 86400) == 86400
    assert deliveries.retry_after_cap(7 * 86400) == 86400


def test_the_policy_is_one_type() -> None:
    fixed = Backoff(base_s=10, max_s=100, retry_after_cap_s=50, jitter=Jitter())
    assert [fixed.delay(n) for n in range(1, 6)] == [10, 20, 40, 80, 100]
    assert fixed.delay(1, retry_after_s=70) == 50
    assert isinstance(feed_backoff(600, 30), Backoff)
    assert isinstance(delivery_backoff(30, 3600), Backoff)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_numbers_are_todays(seed: int) -> None:
    """The formulas this module replaced, with the same random draws."""
    saved = random.getstate()  # the global generator is the one both use
    interval, jitter = 300.0, 30.0
    for errors in range(0, 15):
        for retry_after in (None, 10.0, 5000.0, 10**7):
            random.seed(seed)
            delay = interval
            if errors > 0:
                delay = min(interval * 2 ** min(errors - 1, 10), max(interval, 86400.0))
            if retry_after is not None:
                delay = max(delay, min(retry_after, 7 * 86400.0))
            expected = delay + random.uniform(0, jitter)
            random.seed(seed)
            assert feed_backoff(interval, jitter).delay(errors, retry_after) == expected
    for attempts in range(0, 15):
        for retry_after in (None, 10.0, 5000.0, 10**7):
            random.seed(seed)
            backoff = min(30.0 * 2 ** max(attempts - 1, 0), 3600.0) * random.uniform(0.8, 1.2)
            if retry_after is not None:
                backoff = max(backoff, min(retry_after, 86400.0))
            random.seed(seed)
            assert delivery_backoff(30.0, 3600.0).delay(attempts, retry_after) == backoff
    random.setstate(saved)
