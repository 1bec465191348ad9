"""Per-process caches: finished answers (LRU), and what is derived from each store version.

Answer keys always include the store version, so a rebuild makes every old entry unreachable;
they then age out of the LRU order. Derived values are dropped with their version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

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


class VersionMemo:
    """What a process derives from one store version (facet index, statistics, page reader).

    Values are kept per version and dropped whole with their version: once a newer version is
    ready (`settle`), or when more than `max_versions` versions have values. A page reader holds
    its version's store, which for a small store is a copy in memory, so keeping the values of
    every version a write ever published grew a worker by that copy per write.
    """

    def __init__(self, max_versions: int = 3) -> None:
        self.max_versions = max_versions
        self._versions: OrderedDict[str, dict[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: str, kind: Hashable) -> Any | None:
        with self._lock:
            values = self._versions.get(version)
            return None if values is None else values.get(kind)

    def put(self, version: str, kind: Hashable, value: Any) -> None:
        with self._lock:
            self._versions.setdefault(version, {})[kind] = value
            self._versions.move_to_end(version)
            while len(self._versions) > self.max_versions:
                self._versions.popitem(last=False)

    def newest(self, kind: Hashable, other_than: str) -> tuple[str, Any] | None:
        """The value of `kind` of the version that got one last, leaving `other_than` out."""
        with self._lock:
            for version in reversed(self._versions):
                value = self._versions[version].get(kind)
                if version != other_than and value is not None:
                    return version, value
        return None

    def settle(self, version: str) -> None:
        """Forget every version but `version` (it is published and ready)."""
        with self._lock:
            for other in [v for v in self._versions if v != version]:
                del self._versions[other]

    def versions(self) -> list[str]:
        with self._lock:
            return list(self._versions)
