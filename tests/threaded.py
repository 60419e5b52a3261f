"""A real server running in a background thread with its own event loop, for synchronous tests
(hypothesis, Playwright) that cannot run inside the test's own loop."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable

from helpers import ServerHandle, start_server


class ThreadedServer:
    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.overrides = overrides
        self.handle: ServerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="spreed-test-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.handle = await start_server(self.overrides)
        self._ready.set()
        await self._stop.wait()
        self.handle.stop()

    def call(self, func: Callable[[], Any], timeout: float = 10) -> Any:
        """Run func on the server's loop (the hub is not thread-safe) and return its result."""
        assert self.loop is not None

        async def wrapper() -> Any:
            return func()
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def __enter__(self) -> ServerHandle:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("test server did not start")
        assert self.handle is not None
        return self.handle

    def __exit__(self, *exc: Any) -> None:
        assert self.loop is not None and self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
