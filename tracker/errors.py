"""The exception hierarchy; each module translates foreign errors into these at its boundary."""

from __future__ import annotations


class TrackerError(Exception):
    """Base of every error tracker reports to a user; ``hint`` says what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(TrackerError):
    """The config file is missing, unreadable or invalid; ``problems`` lists every issue found."""

    def __init__(self, message: str, problems: list[str] | None = None, hint: str | None = None):
        super().__init__(message, hint)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        # Multi-line problems (a query with a caret under the column) stay under their bullet.
        return self.message + "".join("\n  - " + p.replace("\n", "\n    ") for p in self.problems)


class FetchError(TrackerError):
    """A feed could not be fetched (network, HTTP status, size limit)."""

    def __init__(self, message: str, status: int | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class ParseError(TrackerError):
    """A feed body could not be turned into entries."""


class StoreError(TrackerError):
    """The database could not be opened, migrated or written."""
