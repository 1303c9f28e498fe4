"""The `world` fixture: a fresh Harness (fake client, informers, fake clock), stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.unit.controllers.harness import Harness


@pytest.fixture
async def world() -> AsyncIterator[Harness]:
    w = Harness()
    yield w
    await w.stop()
