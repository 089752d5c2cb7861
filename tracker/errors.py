"""The exception hierarchy; each module translates foreign errors into these at its boundary.

```
TrackerError
 ├── ConfigError
 ├── FetchError              (a feed could not be fetched; the base catches any other cause)
 │    ├── FetchTimeout       (a connect or read timeout, or the overall fetch deadline)
 │    ├── ConnectFailed      (no connection: refused, DNS, TLS; or the socket failed)
 │    ├── HTTPStatusError    (an answer other than 200 or 304: status, retry_after_s)
 │    ├── ResponseTooLarge   (declared or decoded body over max_bytes)
 │    ├── RedirectRefused    (too many, https → http, non-HTTP, credentials, bad Location,
 │    │                       a public feed to an internal address)
 │    ├── DecodeFailed       (unsupported or corrupt Content-Encoding)
 │    ├── InvalidResponse    (a malformed or cut-short HTTP answer)
 │    └── InvalidURL         (the URL itself cannot be requested)
 ├── ParseError
 └── StoreError
      ├── StorageFault       (no write possible now: full, read-only, I/O error, locked too long)
      └── DatabaseReplaced   (the database file was deleted or replaced under the daemon)
```

Callers decide on the class (``except HTTPStatusError``), never on a class name or on a
message's text: the messages are for people and may change.
"""

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
    """The config file is missing, unreadable or invalid; ``problems`` lists every issue found.

    ``secrets``: what looks like a secret in the rejected file, so that whoever shows the
    problems (the CLI, a reload's log line and admin notice) can mask it too.
    """

    def __init__(
        self,
        message: str,
        problems: list[str] | None = None,
        hint: str | None = None,
        secrets: tuple[str, ...] = (),
    ):
        super().__init__(message, hint)
        self.problems = problems or []
        self.secrets = secrets

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        # Multi-line problems (a query with a caret under the column) stay under their bullet.
        return self.message + "".join("\n  - " + p.replace("\n", "\n    ") for p in self.problems)


class FetchError(TrackerError):
    """A feed could not be fetched; the subclasses below say why."""


class FetchTimeout(FetchError):
    """The server did not answer in time (a connect or read timeout, or the fetch deadline)."""


class ConnectFailed(FetchError):
    """No connection to the server (refused, DNS, TLS), or its socket failed mid-exchange."""


class HTTPStatusError(FetchError):
    """The server answered with a status other than 200 or 304.

    ``retry_after_s`` is the server's Retry-After (429 and 503 only), in seconds from now.
    """

    def __init__(self, message: str, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class ResponseTooLarge(FetchError):
    """The body (declared, or decoded) is larger than ``max_bytes``."""


class RedirectRefused(FetchError):
    """A redirect was not followed: too many of them, or a Location we refuse."""


class DecodeFailed(FetchError):
    """The body's Content-Encoding is unsupported or its data is corrupt."""


class InvalidResponse(FetchError):
    """The server's answer is not well-formed HTTP, or it ended before its body did."""


class InvalidURL(FetchError):
    """The URL cannot be requested (not HTTP, or not a valid URL)."""


class ParseError(TrackerError):
    """A feed body could not be turned into entries."""


class StoreError(TrackerError):
    """The database could not be opened, migrated or written."""


class StorageFault(StoreError):
    """The database cannot take a write now: the disk is full, the file is read-only, an I/O
    error, or a lock held longer than the busy timeout. The daemon waits it out (degraded);
    ``kind`` says which ("full", "read-only", "io", "locked"), ``waiting_for`` what would end it."""

    def __init__(self, message: str, kind: str, waiting_for: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.waiting_for = waiting_for


class DatabaseReplaced(StoreError):
    """The database file was deleted or replaced under a running daemon: writing on would go
    to an unlinked file, so the daemon stops."""
