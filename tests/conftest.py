"""Fixtures: `server` (default config) and `make_server` (with overrides), both real and on loopback."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import ServerHandle, start_server  # noqa: E402


@pytest.fixture
def make_server(io_loop):
    """An async factory: `srv = await make_server({"app": {...}})`; every server stops at teardown."""
    started: list[ServerHandle] = []

    async def factory(overrides=None) -> ServerHandle:
        handle = await start_server(overrides)
        started.append(handle)
        return handle

    yield factory
    for handle in started:
        handle.stop()


@pytest.fixture
def server(io_loop):
    handle = io_loop.run_sync(start_server)
    yield handle
    handle.stop()
