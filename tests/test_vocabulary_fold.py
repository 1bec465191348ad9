"""`fold` (the matching key of every label and cell) gives the same keys on its ASCII fast path."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.vocabulary import fold


def reference_fold(text: str) -> str:
    """The definition: accents stripped after NFKD, lower case, punctuation runs to one space."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("’", "'").replace("'s ", " ")
    text = re.sub(r"[^a-z0-9&+]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF) | st.sampled_from("’ İ ﬁ Å ß\t\n")))
def test_fold_matches_its_definition(text: str) -> None:
    fold.cache_clear()
    assert fold(text) == reference_fold(text)


def test_fold_examples() -> None:
    assert fold("Hematoxylin & Eosin (H&E)") == "hematoxylin & eosin h&e"
    assert fold("Crohn’s  disease") == "crohn disease"
    assert fold("Ovário") == "ovario"
