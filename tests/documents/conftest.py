"""Fixtures for the documents tests (no __init__.py here: a tests.documents package would shadow ``documents``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

GENERATED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def generated_at() -> datetime:
    return GENERATED_AT
