import pytest

from tracker.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        (45, 45),
        ("500ms", 0.5),
        ("1.5h", 5400),
        (" 10 m ", 600),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minuts", "", "m", "10", "1h-5m", True, None, "-5m"])
def test_bad_durations_say_what_to_use(bad: object) -> None:
    with pytest.raises(ValueError, match=r"use 30s, 15m, 2h"):
        parse_duration(bad)


def test_sizes() -> None:
    assert parse_size("10MB") == 10_000_000
    assert parse_size("1MiB") == 1_048_576
    assert parse_size(2048) == 2048
    with pytest.raises(ValueError, match="invalid size"):
        parse_size("ten megs")


def test_format_duration() -> None:
    assert format_duration(900) == "15m"
    assert format_duration(922) == "15m22s"
    assert format_duration(90061) == "1d1h"
    assert format_duration(5) == "5s"


def test_format_size() -> None:
    assert format_size(10 * 1000**2) == "10MB"
    assert format_size(250 * 1000) == "250KB"
    assert format_size(512 * 1024) == "512KiB"
    assert format_size(1024**3) == "1GiB"
    assert format_size(1536) == "1536"
    assert format_size(0) == "0"
    for size in (1, 999, 1000, 1024, 3 * 1024**2, 5 * 1000**3, 123456789):
        assert parse_size(format_size(size)) == size
