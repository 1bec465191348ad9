"""Server settings: defaults, which values may be zero, and errors that name the variable."""

from __future__ import annotations

import pytest

from medkg.config import ConfigError
from medkg_server.settings import DEFAULTS, resolve


def test_missing_keys_take_the_defaults(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = resolve({"STORE": str(tmp_path)})
    assert settings.store == tmp_path
    assert settings.memory_quads == DEFAULTS["MEMORY_QUADS"] > 0
    assert settings.workers == DEFAULTS["WORKERS"]


@pytest.mark.parametrize("name", ["MEMORY_QUADS", "CACHE_ENTRIES"])
def test_zero_turns_a_feature_off(tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    settings = resolve({"STORE": str(tmp_path), name: "0"})
    assert getattr(settings, name.lower()) == 0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MEMORY_QUADS", "-1", "MEDKG_MEMORY_QUADS must be 0 or more"),
        ("MEMORY_QUADS", "lots", "MEDKG_MEMORY_QUADS='lots' is not a whole number"),
        ("WORKERS", "0", "MEDKG_WORKERS must be positive"),
    ],
)
def test_a_bad_value_names_its_variable(tmp_path, name: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message):
        resolve({"STORE": str(tmp_path), name: value})
