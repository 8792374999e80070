"""Pure date helpers offered to diagram code (``today()``, ``add_working_days(...)``...).

Working days follow the Chinese calendar convention: Saturdays, Sundays and the listed public
holidays are days off, except the listed make-up working days ("调休" 补班日), which are working
days even when they fall on a weekend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991
MAX_WORKING_DAYS = 10_000


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            pass
    raise ValueError(f"expected an ISO date such as '2025-10-08', got {value!r}")


def today() -> str:
    """Today's date in Asia/Shanghai as an ISO string ('2025-10-08')."""
    return datetime.now(CHINA_TZ).date().isoformat()


def now() -> str:
    """The current UTC time as an ISO datetime string ('2025-10-08T01:02:03+00:00')."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def add_days(date_iso: str, n: int) -> str:
    """The ISO date ``n`` calendar days after (or, for negative ``n``, before) ``date_iso``."""
    return (_to_date(date_iso) + timedelta(days=int(n))).isoformat()


def days_between(a: str, b: str) -> int:
    """Calendar days from ``a`` to ``b`` (negative when ``b`` is earlier)."""
    return (_to_date(b) - _to_date(a)).days


def iso_duration_days(n: int) -> str:
    """An ISO-8601 duration of ``n`` days, e.g. ``'P3D'`` (for timer expressions)."""
    return f"P{int(n)}D"


def make_add_working_days(holidays: Collection[str] = (),
                          workdays: Collection[str] = ()) -> Callable[[str, int], str]:
    """Build ``add_working_days(date_iso, n)`` for the given holidays and make-up working days."""
    off = frozenset(_to_date(d) for d in holidays)
    on = frozenset(_to_date(d) for d in workdays)

    def is_working_day(d: date) -> bool:
        if d in on:
            return True
        return d.weekday() < 5 and d not in off

    def add_working_days(date_iso: str, n: int) -> str:
        """The ISO date ``n`` working days after ``date_iso`` (before it for negative ``n``)."""
        n = int(n)
        if abs(n) > MAX_WORKING_DAYS:
            raise ValueError(f"add_working_days: {n} is more than {MAX_WORKING_DAYS} days")
        d = _to_date(date_iso)
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        while remaining:
            d += step
            if is_working_day(d):
                remaining -= 1
        return d.isoformat()

    return add_working_days


def helper_functions(holidays: Collection[str] = (),
                     workdays: Collection[str] = ()) -> dict[str, Callable[..., Any]]:
    """All helpers by the name diagram code calls them with."""
    return {
        "today": today,
        "now": now,
        "add_days": add_days,
        "add_working_days": make_add_working_days(holidays, workdays),
        "days_between": days_between,
        "iso_duration_days": iso_duration_days,
    }
