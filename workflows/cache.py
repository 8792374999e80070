"""A process-local cache of live workflow instances, valid only for the exact committed state.

Loading a long case means deserializing its whole task history; the worker that just saved a
case usually handles its next step too. An entry is keyed by the database and the case, and valid only for
one saved state (``lock_version``, bumped by every save, the diagram version's hash and the save's
timestamp), so a save by any other process or thread makes it a miss. An instance is
*taken out* of the cache while a transaction uses it and put back only after that transaction
commits: a rolled-back step can never leave a mutated instance behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

PENDING_KEY = "fengqiao.instances_to_cache"


class InstanceCache:
    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], tuple[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def take(self, key: tuple[str, int], token: str) -> Any | None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is not None and entry[0] == token:
                self.hits += 1
                return entry[1]
            self.misses += 1
            return None

    def put(self, key: tuple[str, int], token: str, instance: Any) -> None:
        with self._lock:
            self._entries[key] = (token, instance)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


instances = InstanceCache()


def cache_key(session: Session, case_id: int) -> tuple[str, int]:
    bind = session.get_bind()
    return (str(bind.url), case_id)


def state_token(lock_version: int, version_sha: str, saved_at: datetime | None) -> str:
    """Identify one saved state; the timestamp is normalised (drivers differ on time zones)."""
    if saved_at is None:
        stamp = "-"
    else:
        aware = saved_at if saved_at.tzinfo else saved_at.replace(tzinfo=UTC)
        stamp = f"{aware.timestamp():.6f}"
    return f"{lock_version}:{version_sha}:{stamp}"


def stage(session: Session, case_id: int, token: str, instance: Any) -> None:
    """Put ``instance`` in the cache when (and only if) ``session`` commits."""
    session.info.setdefault(PENDING_KEY, {})[cache_key(session, case_id)] = (token, instance)


def unstage(session: Session, case_id: int) -> None:
    session.info.get(PENDING_KEY, {}).pop(cache_key(session, case_id), None)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for key, (token, instance) in session.info.pop(PENDING_KEY, {}).items():
        instances.put(key, token, instance)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
