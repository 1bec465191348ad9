"""The SSSOM export parses and validates with the `sssom` package and keeps its header."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from medkg.export import ExportError, export


def _split(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = "\n".join(line for line in lines if not line.startswith("#"))
    return header, list(csv.DictReader(io.StringIO(body), delimiter="\t"))


def test_sssom_rows_and_header(export_settings, out_dir: Path) -> None:
    path = export(export_settings, "sssom", out_dir / "mappings.sssom.tsv", quiet=True)
    header, rows = _split(path)
    assert "# mapping_set_id: https://w3id.org/medkg/mappings.sssom.tsv" in header
    assert "# license: https://creativecommons.org/publicdomain/zero/1.0/" in header
    assert len(rows) == 6
    breast = next(r for r in rows if r["subject_id"] == "medkg.anatomy:breast")
    assert breast["predicate_id"] == "skos:exactMatch"
    assert breast["object_id"] == "UBERON:0000310"
    assert breast["object_label"] == "breast"
    assert breast["mapping_justification"] == "semapv:ManualMappingCuration"
    assert "same anatomical region" in breast["comment"]
    wsi = next(r for r in rows if r["subject_id"] == "medkg.modality:whole-slide-imaging")
    assert wsi["predicate_id"] == "skos:closeMatch" and wsi["object_id"] == "OBI:0002564"


def test_sssom_package_parses_and_validates(export_settings, out_dir: Path) -> None:
    parsers = pytest.importorskip("sssom.parsers")
    path = export(export_settings, "sssom", out_dir / "mappings.sssom.tsv", quiet=True)
    msdf = parsers.parse_sssom_table(path)
    assert len(msdf.df) == 6
    assert msdf.metadata["mapping_set_id"] == "https://w3id.org/medkg/mappings.sssom.tsv"
    assert msdf.metadata["license"] != "https://w3id.org/sssom/license/unspecified"
    if shutil.which("sssom"):
        _sssom_validate(path)


def _sssom_validate(path: Path) -> None:
    result = subprocess.run(
        ["sssom", "validate", str(path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _home_with_context(export_settings, home: Path) -> Path:
    (home / "ontology").mkdir(parents=True)
    shutil.copy(export_settings.ontology_dir / "context.jsonld", home / "ontology")
    return home


def test_missing_verification_table_is_a_clear_error(
    export_settings, out_dir: Path, tmp_path: Path
) -> None:
    home = _home_with_context(export_settings, tmp_path / "home")
    with pytest.raises(ExportError, match="mappings-verified.tsv"):
        export(replace(export_settings, home=home), "sssom", out_dir / "m.tsv", quiet=True)


def test_only_verified_mappings_claim_manual_curation(
    export_settings, out_dir: Path, tmp_path: Path
) -> None:
    """A mapping the verification table does not list says its method is unspecified."""
    home = _home_with_context(export_settings, tmp_path / "home")
    table = (export_settings.ontology_dir / "mappings-verified.tsv").read_text(encoding="utf-8")
    unlisted = ("stain/h-and-e", "task/classification")
    kept = [line for line in table.splitlines() if not any(c in line for c in unlisted)]
    (home / "ontology" / "mappings-verified.tsv").write_text("\n".join(kept) + "\n", "utf-8")
    path = export(replace(export_settings, home=home), "sssom", out_dir / "m.tsv", quiet=True)
    _, rows = _split(path)
    justification = {r["subject_id"]: r["mapping_justification"] for r in rows}
    assert justification == {
        "medkg.anatomy:breast": "semapv:ManualMappingCuration",
        "medkg.anatomy:lymph-node": "semapv:ManualMappingCuration",
        "medkg.anatomy:prostate": "semapv:ManualMappingCuration",
        "medkg.modality:whole-slide-imaging": "semapv:ManualMappingCuration",
        "medkg.stain:h-and-e": "semapv:UnspecifiedMatching",
        "medkg.task:classification": "semapv:UnspecifiedMatching",
    }
    stain = next(r for r in rows if r["subject_id"] == "medkg.stain:h-and-e")
    assert "not verified" in stain["comment"] and stain["object_label"] == ""
    if shutil.which("sssom"):
        _sssom_validate(path)


def test_sssom_reads_the_catalogue_licence_without_reading_every_dataset(
    export_settings, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from medkg.export import records

    whole = export(export_settings, "sssom", out_dir / "whole.sssom.tsv", quiet=True).read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mappings do not need the datasets (2 s per 1,000 of them)")

    monkeypatch.setattr(records, "read_datasets", refuse)
    light = export(export_settings, "sssom", out_dir / "light.sssom.tsv", quiet=True)
    assert light.read_bytes() == whole and b"license" in whole
