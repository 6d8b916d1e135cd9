"""A one-item mailbox between a camera callback and a slower worker.

A queue would make a slow worker fall further and further behind the camera; here a new item
replaces one not yet taken, so the worker always gets the newest frame and stale ones are dropped.
"""
from __future__ import annotations

import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")


class NewestOnly(Generic[Item]):
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: Item | None = None
        self._closed = False

    def put(self, item: Item) -> bool:
        """Offer `item` without blocking; True when it replaced an item nobody took (a drop)."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout_s: float | None = None) -> Item | None:
        """The newest item, waiting for one; None after `close()` or when `timeout_s` passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._item is not None or self._closed, timeout_s)
            if self._closed:
                return None
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        """Wake the worker for good: every later `take()` returns None."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
