"""What every aggregate's queries share: the connection and transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


class Tables:
    """Base of the aggregate mixins; the Store facade (store/facade.py) opens ``db``."""

    db: sqlite_utils.Database
    # A random id per database, mixed into idempotency keys (migration v4).
    instance_id: str

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: all of it lands, or none of it (nested blocks are savepoints)."""
        with self.db.atomic():
            yield
