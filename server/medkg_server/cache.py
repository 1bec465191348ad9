"""A per-process LRU cache of finished answers, keyed by request and store version.

Keys always include the store version, so a rebuild makes every old entry unreachable; they then
age out of the LRU order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LRUCache(Generic[V]):
    """Thread-safe LRU mapping with a bound on entries and on the size of one entry."""

    def __init__(self, max_entries: int, max_entry_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_entry_bytes = max_entry_bytes
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: V, size: int) -> None:
        """Keep `value` unless caching is off or it is larger than one entry may be."""
        if self.max_entries <= 0 or size > self.max_entry_bytes:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
