"""Progress bars for long exports, silenced by the caller's `quiet` flag."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, quiet: bool, total: int | None = None) -> Iterator[T]:
    """Yield `items`, drawing a bar on stderr unless `quiet`."""
    yield from tqdm(items, desc=desc, total=total, disable=quiet, unit="item", leave=False)
