"""The server's event-loop thread: whether the caller is on it, and handing it work.

All sending, logging and held-reply bookkeeping happens on the loop thread (see
:mod:`faultdns._server`); public methods may be called from any thread and use these
to get there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["call_on_loop", "in_loop"]


def in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """True when the calling thread is running ``loop`` right now."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def call_on_loop(loop: asyncio.AbstractEventLoop | None, callback: Callable[[], object]) -> None:
    """Run ``callback`` on the loop thread: now if this is it (or there is no loop), else soon.

    A closed loop (the server stopped) runs nothing.
    """
    if loop is None or in_loop(loop):
        callback()
    else:
        with contextlib.suppress(RuntimeError):  # the loop is closed: stopped
            loop.call_soon_threadsafe(callback)
