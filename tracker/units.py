"""Human units in the config: durations (``90s``, ``15m``, ``1h30m``), sizes (``10MB``) and
listen addresses (``127.0.0.1:9464``)."""

from __future__ import annotations

import ipaddress
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_DURATION_FULL = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*(?:ms|s|m|h|d|w)\s*)+$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like ``90s``, ``15m``, ``2h``, ``1h30m``, ``7d``."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r} (use 30s, 15m, 2h)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION_FULL.match(value):
        seconds = sum(
            float(n) * _DURATION_UNITS[u.lower()] for n, u in _DURATION_PART.findall(value)
        )
    else:
        raise ValueError(f"invalid duration {value!r} (use 30s, 15m, 2h)")
    if seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must not be negative")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from a number or a string like ``512KB``, ``10MB``, ``1GiB``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (m := _SIZE.match(value)):
        return int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    raise ValueError(f"invalid size {value!r} (use 512KB, 10MB, 1GB)")


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for display: 900 -> '15m', 922 -> '15m22s'."""
    if seconds < 60:
        return f"{seconds:g}s"
    parts = []
    rest = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    # Two units are precise enough for humans: 1d3h, not 1d3h12m5s.
    return "".join(parts[:2])


# Largest first; a binary unit before the decimal one of its size (1 GiB is more than 1 GB).
_SIZE_DISPLAY = (
    ("GiB", 1024**3),
    ("GB", 1000**3),
    ("MiB", 1024**2),
    ("MB", 1000**2),
    ("KiB", 1024),
    ("KB", 1000),
)


def format_size(size: int) -> str:
    """The inverse of parse_size for display: 10_000_000 -> '10MB', 1024 -> '1KiB', 1500 -> '1500'.

    The largest unit that divides the size exactly, so the text parses back to the same number.
    """
    for unit, factor in _SIZE_DISPLAY:
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def parse_listen_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:9464``, ``[::1]:9464`` or ``:9464`` (every interface) → (host, port)."""
    usage = "use host:port, [ipv6]:port or :port"
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        raise ValueError(f"invalid listen address {text!r}: no port ({usage})")
    if host.startswith("[") or host.endswith("]"):
        if not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"invalid listen address {text!r}: unbalanced brackets ({usage})")
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(
                f"invalid listen address {text!r}: {host!r} is not an IPv6 address"
            ) from None
    elif ":" in host:
        raise ValueError(
            f"invalid listen address {text!r}: put an IPv6 address in brackets, e.g. [::1]:9464"
        )
    if not (port_text.isascii() and port_text.isdigit()) or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            f"invalid listen address {text!r}: port must be a number from 0 to 65535 ({usage})"
        )
    return host, int(port_text)
