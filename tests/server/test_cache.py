"""The per-version memo: values live and die with their store version."""

from __future__ import annotations

from medkg_server.cache import VersionMemo


def test_values_are_kept_per_version_and_kind() -> None:
    memo = VersionMemo()
    memo.put("v1", "index", 1)
    memo.put("v1", "reader", "r1")
    memo.put("v2", "index", 2)
    assert memo.get("v1", "index") == 1 and memo.get("v1", "reader") == "r1"
    assert memo.get("v2", "index") == 2
    assert memo.get("v2", "reader") is None and memo.get("v3", "index") is None


def test_settling_on_a_version_forgets_every_other() -> None:
    memo = VersionMemo()
    for version in ("v1", "v2", "v3"):
        memo.put(version, "index", version)
    memo.settle("v2")
    assert memo.versions() == ["v2"]
    assert memo.get("v1", "index") is None and memo.get("v3", "index") is None


def test_no_more_than_max_versions_are_kept_the_oldest_put_going_first() -> None:
    memo = VersionMemo(max_versions=2)
    memo.put("v1", "index", 1)
    memo.put("v2", "index", 2)
    memo.put("v1", "reader", "again")  # v1 used again: v2 is now the oldest
    memo.put("v3", "index", 3)
    assert memo.versions() == ["v1", "v3"]


def test_newest_finds_the_last_version_given_a_kind_but_the_one_left_out() -> None:
    memo = VersionMemo()
    memo.put("v1", "index", 1)
    memo.put("v2", "index", 2)
    memo.put("v3", "reader", "r")
    assert memo.newest("index", other_than="v3") == ("v2", 2)
    assert memo.newest("index", other_than="v2") == ("v1", 1)
    assert memo.newest("statistics", other_than="v3") is None
