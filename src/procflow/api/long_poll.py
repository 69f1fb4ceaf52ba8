"""Long polling for fetch-and-lock: answer as soon as a task is fetchable, not at a tick.

The store calls back (from any thread) whenever external tasks may have become fetchable:
after this process's commits, and on PostgreSQL after any replica's (LISTEN/NOTIFY). Each
callback sets the current ``asyncio.Event`` on the server's loop and replaces it, so every
waiting request wakes and tries again. No thread is held while a request waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from procflow.store.port import Store

T = TypeVar("T")

# Tasks also become fetchable with no commit at all (a lock expires, a retry timeout ends):
# a waiting request looks again this often.
RECHECK_SECONDS = 1.0


class TaskWakeups:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        """The event the next wake-up sets; subscribes to the store on first use."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._store.on_external_tasks(self._from_any_thread)
        return self._event

    def _from_any_thread(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._pulse)
        except RuntimeError:  # the loop closed meanwhile (server shutting down)
            return

    def _pulse(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def long_poll(
    wakeups: TaskWakeups, attempt: Callable[[], Awaitable[list[T]]], timeout_seconds: float
) -> list[T]:
    """``attempt`` now, and again on each wake-up, until it finds something or time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        # Taken before the attempt: a task committed while it runs has set this event.
        woken = wakeups.current()
        found = await attempt()
        remaining = deadline - loop.time()
        if found or remaining <= 0:
            return found
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), min(remaining, RECHECK_SECONDS))
