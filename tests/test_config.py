"""Settings read from the environment: the base IRI every medkg IRI is minted under."""

from __future__ import annotations

from pathlib import Path

import pytest

from medkg.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[1]  # the checkout: its data/ and ontology/


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("https://example.org/kg#", "without '#'"),
        ("https://example.org/kg#x/", "without '#'"),
        ("https://example.org/kg", "ending in '/'"),
        ("ftp://example.org/kg/", "http"),
        ("https://example.org/my kg/", "not a valid IRI"),
        ("https://example.org/<kg>/", "not a valid IRI"),
    ],
)
def test_a_base_medkg_cannot_mint_iris_under_is_refused(
    monkeypatch: pytest.MonkeyPatch, base: str, why: str
) -> None:
    monkeypatch.setenv("MEDKG_BASE", base)
    with pytest.raises(ConfigError, match="MEDKG_BASE") as refused:
        load_settings(home=ROOT)
    assert why in str(refused.value)


def test_a_good_base_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDKG_BASE", "https://example.org/kg/")
    assert load_settings(home=ROOT).base == "https://example.org/kg/"
