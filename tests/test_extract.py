"""Extraction from the tiny lists: fields, concepts, skips with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medkg.build import read_all, collect_sources
from medkg.config import Settings
from medkg.namespaces import Namespaces
from medkg.ontology import vocabulary_graph
from medkg.records import EntryRecord
from medkg.vocabulary import Vocabulary, build_vocabulary

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def read(mini_settings: Settings):
    results, _ = read_all(mini_settings, collect_sources(mini_settings))
    return {r.text.source.id: r for r in results}


@pytest.fixture
def vocab(mini_settings: Settings) -> Vocabulary:
    return build_vocabulary(vocabulary_graph(mini_settings), Namespaces(mini_settings.base))


def by_name(result, name: str) -> EntryRecord:
    return next(r for r in result.records if r.name == name)


def concept(vocab: Vocabulary, kind: str, label: str) -> str:
    iri = vocab.exact(kind, label)
    assert iri, f"vocabulary has no {kind} labelled {label!r}"
    return iri


def test_table_row_fields(read, vocab) -> None:
    lung = by_name(read["tables"], "LungAlpha")
    assert lung.line == 13
    assert [i.value for i in lung.issued] == ["2019-03"]
    assert lung.dimensions == ["3D"]
    assert [(c.value, c.unit) for c in lung.counts] == [(1200, "cases")]
    assert lung.landing_pages == ["https://lungalpha.grand-challenge.org/"]
    assert concept(vocab, "modality", "CT") in lung.modalities
    assert concept(vocab, "anatomy", "lung") in lung.organs
    assert concept(vocab, "anatomy", "thorax") in lung.organs  # from the "Chest" heading
    challenge = lung.challenges[0]
    assert (challenge.year, challenge.slug) == (2019, "miccai-2019")


def test_stain_and_task_from_description_and_cells(read, vocab) -> None:
    beta = by_name(read["tables"], "BreastBeta")
    assert concept(vocab, "stain", "H&E") in beta.stains
    assert concept(vocab, "anatomy", "breast") in beta.organs
    gamma = by_name(read["tables"], "GammaSeg")
    assert concept(vocab, "task", "segmentation") in gamma.tasks  # the cell says "Segmention"
    assert concept(vocab, "modality", "T2-weighted MRI") in gamma.modalities or \
        concept(vocab, "modality", "T2-MRI") in gamma.modalities
    assert gamma.papers == ["https://arxiv.org/abs/0000.00001"]
    assert gamma.landing_pages == ["https://example.org/gamma"]


def test_shifted_type_and_dimension_columns_are_swapped_back(read, vocab) -> None:
    shifted = by_name(read["tables"], "ShiftedSet")
    assert shifted.dimensions == ["2D"]
    assert concept(vocab, "modality", "X-ray") in shifted.modalities


def test_bad_month_and_placeholder_link(read) -> None:
    placeholder = by_name(read["tables"], "Placeholder Set")
    assert [i.value for i in placeholder.issued] == ["2020"]  # "2020-13" has no valid month
    assert placeholder.landing_pages == []


def test_skips_have_line_and_reason(read) -> None:
    skips = {(s.line, s.reason.split(":")[0]) for s in read["tables"].skips}
    reasons = " ".join(s.reason for s in read["tables"].skips)
    lines = {s.line for s in read["tables"].skips}
    assert 14 in lines and "empty row" in reasons
    assert any("no dataset name" in s.reason for s in read["tables"].skips)
    assert any("Loss Functions" in s.reason for s in read["tables"].skips)
    assert any("without a dataset-name column" in s.reason for s in read["tables"].skips)
    assert all(s.file == "tables.md" for s in read["tables"].skips), skips


def test_every_row_is_an_entry_or_a_skip(read) -> None:
    from medkg.markdown import parse_document

    result = read["tables"]
    doc = parse_document(result.text.text)
    rows = {row.line for table in doc.tables for row in table.rows}
    accounted = {r.line for r in result.records} | {s.line for s in result.skips}
    assert rows <= accounted


def test_numbered_references_counts_and_acquisition(read, vocab) -> None:
    beta = by_name(read["numbered"], "Breast-Beta")
    assert len(beta.citations) == 2 and beta.citations[0].startswith("Doe, Jane")
    assert beta.dois == ["10.1000/xyz123"]
    assert beta.magnification == ["40x"] and beta.scanner == ["Aperio AT2"]
    delta = by_name(read["numbered"], "DeltaNuc")
    assert {(c.value, c.unit) for c in delta.counts} == {(5000, "patches"), (20, "wsis")}
    assert [i.value for i in delta.issued] == ["2021-06"]
    assert {concept(vocab, "anatomy", "colon"), concept(vocab, "anatomy", "stomach")} <= set(delta.organs)
    assert concept(vocab, "stain", "Ki-67") in delta.stains
    assert concept(vocab, "modality", "whole slide imaging") in delta.modalities  # manifest scope


def test_unmatched_mentions_are_recorded(read) -> None:
    omicron = by_name(read["numbered"], "Omicron")
    unmatched = [m for m in omicron.mentions if not m.concepts]
    assert [(m.kind, m.text, m.field) for m in unmatched] == [("anatomy", "Zorgbladder", "organ")]


def test_heading_entries(read, vocab) -> None:
    zeta = by_name(read["headings"], "ZetaCyto")
    assert zeta.line == 4
    assert zeta.landing_pages == ["https://data.example.org/zeta"]
    assert zeta.dois == ["10.17632/abcd1234.2"]
    assert concept(vocab, "anatomy", "cervix") in zeta.organs or \
        concept(vocab, "anatomy", "uterine cervix") in zeta.organs
    assert concept(vocab, "stain", "Papanicolaou") in zeta.stains
    assert zeta.magnification == ["40x"]
    assert (9339, "images") in {(c.value, c.unit) for c in zeta.counts}
    eta = by_name(read["headings"], "EtaSmear")
    assert eta.section[-1] == "Client/Plugin or Request Needed"
    assert concept(vocab, "modality", "cytology") in eta.modalities


@pytest.mark.parametrize(("label", "href", "kind"), [
    ("website", "https://arxiv.org/pdf/2003.10778.pdf", "paper"),
    ("Project Homepage", "https://link.springer.com/chapter/10.1007/x", "paper"),
    ("data", "https://doi.org/10.5281/zenodo.7500843", "landing"),
    ("", "https://doi.org/10.1038/s41597-023-01981-y", "paper"),
    ("github", "https://jgamper.github.io/PanNukeDataset/", "code"),
    ("Grand Challenge", "https://monuseg.grand-challenge.org/Home/", "landing"),
])
def test_link_kinds(label: str, href: str, kind: str) -> None:
    from medkg.extract import link_kind

    assert link_kind(label.lower(), href) == kind


def test_acquisition_keeps_scanners_and_drops_listed_noise(mini_settings) -> None:
    from medkg.extract import load_rules

    rules = load_rules(mini_settings.data_dir)
    assert rules.not_scanner is not None
    assert rules.not_scanner.sub(" ", "40x (from TCGA) Leica SCN400").split() == ["40x", "Leica", "SCN400"]
    assert rules.not_scanner.sub("", "slide level analysis").strip() == ""



def _kind_by_substrings(label: str, href: str) -> str:
    """link_kind as first written, with a Python loop over the host names."""
    from medkg.extract import CODE_LABELS, DATA_LABELS, JOURNAL_HOSTS, MIXED_HOSTS, PAPER_LABELS

    if label in PAPER_LABELS or any(h in href for h in JOURNAL_HOSTS):
        return "paper"
    if label in CODE_LABELS:
        return "code"
    if label not in DATA_LABELS and any(h in href for h in MIXED_HOSTS):
        return "paper"
    return "landing"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="adorgixvt./:-", max_size=30),
       st.sampled_from(["", "paper", "data", "code"]))
def test_host_patterns_find_what_substring_tests_find(href: str, label: str) -> None:
    from medkg.extract import JOURNAL_HOSTS, MIXED_HOSTS, link_kind

    for host in (*JOURNAL_HOSTS, *MIXED_HOSTS):
        for url in (href + host, host + href, href, href[:3] + host[:-1]):
            assert link_kind(label, url) == _kind_by_substrings(label, url)


def test_a_patch_row_is_microscopy_not_the_lists_whole_slide_default(real_settings) -> None:
    sources = [s for s in collect_sources(real_settings) if s.id == "histopathology"]
    assert sources and sources[0].scope == {"modality": "whole slide imaging"}
    (result,), _ = read_all(real_settings, sources)
    vocab = build_vocabulary(vocabulary_graph(real_settings), Namespaces(real_settings.base))
    wsi = concept(vocab, "modality", "whole slide imaging")
    microscopy = concept(vocab, "modality", "microscopy")
    arch = by_name(result, "ARCH")  # WSI/Patch: patch
    assert microscopy in arch.modalities and wsi not in arch.modalities
    assert any(m.field == "granularity" and m.text == "patch" for m in arch.mentions)
    assert by_name(result, "AGGC").modalities == [wsi]  # WSI/Patch: wsi


def test_a_heading_for_several_organs_leaves_an_entry_its_own(mini_settings, write_list,
                                                              vocab) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "two-organs",
        "# Two organs\n\n## Breast / Head & Neck Cancer\n\n"
        "| Dataset | Organ | Link |\n|---|---|---|\n"
        "| Breast Only Set | breast | [site](https://example.org/b) |\n"
        "| Unsaid Set | | [site](https://example.org/u) |\n",
    )
    (result,), _ = read_all(mini_settings, extra_sources([str(folder)], set()))
    breast = concept(vocab, "anatomy", "breast")
    head_and_neck = concept(vocab, "anatomy", "head and neck")
    assert by_name(result, "Breast Only Set").organs == [breast]
    assert {breast, head_and_neck} <= set(by_name(result, "Unsaid Set").organs)


def test_an_entry_whose_name_is_only_markup_is_skipped_with_its_line(mini_settings,
                                                                     write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "markup-names",
        "# Markup names\n\n## Datasets\n\n"
        "### [<img src=x onerror=alert(1)>](https://example.org/a)\n\n"
        "Some text about it.\n\n## Links\n\n"
        "- [](https://example.org/b): a link without text, described at length here\n"
        "- [Named Set](https://example.org/c): a link with text, described at length here\n",
    )
    (result,), _ = read_all(mini_settings, extra_sources([str(folder)], set()))
    assert [r.name for r in result.records] == ["Named Set"]
    reasons = {(s.line, s.reason) for s in result.skips}
    assert (5, "heading has no dataset name (only markup)") in reasons
    assert (11, "the link has no text to name a dataset") in reasons


def test_cell_labels_name_a_concept_in_cells_but_not_in_running_text(real_settings) -> None:
    vocab = build_vocabulary(vocabulary_graph(real_settings), Namespaces(real_settings.base))
    fundus = concept(vocab, "modality", "fundus photography")
    mri = concept(vocab, "modality", "MRI")
    grading = concept(vocab, "task", "grading")
    assert vocab.find("modality", "Retinal") == [fundus]  # a Modality column's value
    assert vocab.find_in_text("modality", "Retinal vessel segmentation") == []
    assert vocab.find_in_text("modality", "double echo steady state MRI knee scans") == [mri]
    assert vocab.find("task", "Grade") == [grading]
    assert grading not in vocab.find_in_text("task", "Low Grade Glioma (LGG) Segmentation")
    # the labels every text may use still count in running text
    assert vocab.find_in_text("modality", "color fundus photography of both eyes") == [fundus]


def test_a_description_does_not_override_what_the_modality_column_says(mini_settings,
                                                                        write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "retina-rows",
        "# Retina rows\n\n| Dataset | Description | Modality |\n|---|---|---|\n"
        "| Vessel OCT Set | Retinal vessel segmentation | OCT |\n"
        "| Fundus Set | Optic disc segmentation | Retinal |\n",
    )
    (result,), _ = read_all(mini_settings, extra_sources([str(folder)], set()))
    vocab = build_vocabulary(vocabulary_graph(mini_settings), Namespaces(mini_settings.base))
    assert by_name(result, "Vessel OCT Set").modalities == [concept(vocab, "modality", "OCT")]
    assert by_name(result, "Fundus Set").modalities == [
        concept(vocab, "modality", "fundus photography")
    ]


def test_counts_are_totals_with_their_own_unit(real_settings, write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "sizes",
        "# Sizes\n\n| Dataset | Description |\n|---|---|\n"
        "| Cells2D | 2D Cell Imaging, 1862 Cases, polymorphic HEp-2 cell images |\n"
        "| Slides Each | Train: 500 (100 patients, 5 slides each), 50 wsi / scanner |\n"
        "| Two Words | 16 EDF cell images and 1800 3D intra-oral scans |\n"
        "| Classes | 7 Categories of Nuclei, 304 Whole Slide Images (WSIs) |\n",
    )
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))

    def counts(name: str) -> list[tuple[float, str]]:
        return [(c.value, c.unit) for c in by_name(result, name).counts]

    assert counts("Cells2D") == [(1862, "cases")]  # "2D Cell" and "HEp-2 cell" are no counts
    assert counts("Slides Each") == [(100, "patients")]  # per patient, per scanner: rates
    assert counts("Two Words") == [(16, "images"), (1800, "scans")]
    assert counts("Classes") == [(304, "wsis")]


def test_a_count_after_a_split_word_is_that_part_not_the_whole(real_settings,
                                                                write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "splits",
        "# Splits\n\n| Dataset | Size |\n|---|---|\n"
        "| Nuclei Split | Train: 27 images, Test: 14 images, 24.319 nuclei |\n"
        "| Slides Split | train 4433 wsi; Valid: 90 wsi |\n"
        "| Whole After Parts | Train: 14.134, Valid: 1767, Test: 1767 (100 wsi) |\n",
    )
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))

    def counts(name: str) -> list[tuple[float, str, str | None]]:
        return [(c.value, c.unit, c.split) for c in by_name(result, name).counts]

    assert counts("Nuclei Split") == [(27, "images", "train"), (14, "images", "test"),
                                      (24319, "nuclei", None)]
    assert counts("Slides Split") == [(4433, "wsis", "train"), (90, "wsis", "validation")]
    # a figure further on from the split word is not read as that split's
    assert counts("Whole After Parts") == [(100, "wsis", None)]


def test_a_not_a_scanner_phrase_goes_only_as_a_whole_part_of_the_cell(real_settings,
                                                                      write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "scanned",
        "# Scanned\n\n| Dataset name | Other (Magnification, Scanner) |\n|---|---|\n"
        "| Prostate Slides | 20x - Subset1: Akoya Scanner, Subset3: scanned by multiple "
        "scanners |\n"
        "| Many Slides | 40x, multiple |\n"
        "| Other Slides | 20x - different scanners |\n",
    )
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))
    # "multiple" inside a longer phrase is part of what the list says, not noise to cut out
    assert by_name(result, "Prostate Slides").scanner == [
        "Subset1: Akoya Scanner, Subset3: scanned by multiple scanners"]
    assert by_name(result, "Many Slides").scanner == []
    assert by_name(result, "Other Slides").scanner == []


def test_an_image_size_is_no_magnification(real_settings, write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "cyto",
        "# Cyto\n\n## Datasets\n### [Pap Fields](https://example.org/pap)\n\n"
        "- 425 microscope field images, with 2048 x 1532 pixel size.\n"
        "- Photographed at 40X magnification, resized to 256 x 192 pixel, 1200×1600 crops.\n",
    )
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))
    assert by_name(result, "Pap Fields").magnification == ["40x"]


def test_a_reference_marker_without_its_number_leaves_no_brackets_in_the_name(
        real_settings) -> None:
    sources = [s for s in collect_sources(real_settings) if s.id == "histopathology"]
    (result,), _ = read_all(real_settings, sources)
    endo = next(r for r in result.records if r.raw_name.startswith("ENDO-AID"))
    assert endo.raw_name == "ENDO-AID []" and endo.name == "ENDO-AID"


def test_an_acquisition_cell_gives_scanners_not_sources_or_connectors(real_settings,
                                                                       write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "scanners",
        "# Scanners\n\n| Dataset name | Other (Magnification, Scanner) |\n|---|---|\n"
        "| Lung Slides | 20x or 40x - Aperio AT2 |\n"
        "| Tiger Slides | (from TCGA, RUMC, JB) |\n"
        "| Nuclei Slides | 40x (UHCW) |\n"
        "| Kept Slides | 20x - Omnyx VL120 (UHCW) |\n",
    )
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))
    assert by_name(result, "Lung Slides").scanner == ["Aperio AT2"]
    assert by_name(result, "Lung Slides").magnification == ["20x", "40x"]
    assert by_name(result, "Tiger Slides").scanner == []
    assert by_name(result, "Nuclei Slides").scanner == []
    assert by_name(result, "Kept Slides").scanner == ["Omnyx VL120 (UHCW)"]


def test_slices_are_a_counted_unit(real_settings) -> None:
    sources = [s for s in collect_sources(real_settings) if s.id == "medical-ai-navigator"]
    (result,), _ = read_all(real_settings, sources)
    video = by_name(result, "LDPolypVideo")  # "2D Endoscopy, 861400 Slices, ..."
    assert [(c.value, c.unit) for c in video.counts] == [(861400, "slices")]


def test_a_bullets_release_is_a_past_date_not_a_count(mini_settings, write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "bullet-years",
        "# Bullet years\n\n## Datasets\n\n"
        "- [Limb Set](https://example.org/l): 3,100 CT images (arms: 2071, legs: 1029)\n"
        "- [Count Set](https://example.org/c): retinal photographs, 2018 images in all\n"
        "- [Dated Set](https://example.org/d): 2,048 images of 1996 patients, released 2021-05\n",
    )
    (result,), _ = read_all(mini_settings, extra_sources([str(folder)], set()))
    assert by_name(result, "Limb Set").issued == []  # 2071 is a count, in the future
    assert by_name(result, "Count Set").issued == []
    assert [i.value for i in by_name(result, "Dated Set").issued] == ["2021-05"]



def test_a_bold_label_under_a_heading_entry_is_not_an_organ(mini_settings, write_list) -> None:
    from medkg.sources import extra_sources

    folder = write_list(
        "keywords",
        "# Keywords\n\n## Datasets\n\n### [Chest Slate](https://example.org/cs)\n"
        "90 radiographs  \n**Keywords**: small, X-ray, labels\n",
    )
    (result,), _ = read_all(mini_settings, extra_sources([str(folder)], set()))
    slate = by_name(result, "Chest Slate")
    assert [m.text for m in slate.mentions if m.field == "organ"] == []
    assert slate.organs == []


def test_counts_in_a_data_column_are_read_like_the_size_column(real_settings) -> None:
    from medkg.sources import extra_sources

    folder = FIXTURES / "count-columns"
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))

    def counts(name: str) -> list[tuple[float, str, str | None]]:
        return [(c.value, c.unit, c.split) for c in by_name(result, name).counts]

    # the size cell gives slides without a unit; the "Data" cell gives the patches per split
    assert counts("Patch Split") == [(10091, "patches", "train"), (40, "patches", "validation"),
                                     (80, "patches", "test")]
    assert counts("Nuclei Masks") == [(12000, "nuclei", None)]
    assert counts("Both Columns") == [(30, "wsis", None), (4022, "nuclei", None)]  # no repeat
    assert counts("Labels Only") == []


def test_a_count_after_a_split_count_in_its_part_is_of_that_split(real_settings) -> None:
    from medkg.sources import extra_sources

    folder = FIXTURES / "split-parts"
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))

    def counts(name: str) -> list[tuple[float, str, str | None]]:
        return [(c.value, c.unit, c.split) for c in by_name(result, name).counts]

    # LYON19: the cells are the test ROIs' cells, not the whole dataset's
    assert counts("Cells In Test") == [(441, "rois", "test"), (171166, "cells", "test")]
    assert counts("Two Parts") == [(20, "images", "train"), (300, "cells", "train"),
                                   (10, "images", "test"), (150, "cells", "test")]
    # a separator, brackets or a sentence's end close the part: what follows is the whole's
    assert counts("Part Then Whole") == [(14, "images", "test"), (24319, "nuclei", None)]
    assert counts("Whole In Brackets") == [(30, "images", "test"), (7570, "nuclei", None)]
    assert counts("Sentence Ends") == [(12, "images", "test"), (900, "cells", None)]
    # another split word, even not right before the number, starts another part
    assert counts("Next Split Word") == [(5, "wsis", "test"), (20, "images", None)]


def test_task_cells_give_their_label_classes_and_class_counts(real_settings) -> None:
    from medkg.sources import extra_sources

    folder = FIXTURES / "label-classes"
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))

    def classes(name: str) -> list[tuple[int | None, tuple[str, ...]]]:
        return [(c.count, c.names) for c in by_name(result, name).label_classes]

    assert classes("Counted Names") == [(6, ("mitosis", "apoptosis", "tumor nuclei",
                                             "non-tumor nuclei", "tubule", "non-tubule"))]
    # the count says a '/' is inside one class here, and between two in "cancer/no cancer"
    assert classes("Slash Kept Whole") == [(3, ("other", "dysplastic/malignant epithelial",
                                                "muscle"))]
    assert classes("Binary Slash") == [(2, ("cancer", "no cancer"))]
    assert classes("Counted Classes") == [(4, ("0", "1+", "2+", "3+"))]
    assert classes("Names Only") == [(None, ("epithelial", "inflammatory", "fibroblast"))]
    assert classes("Versus") == [(None, ("benign", "malignant"))]
    assert classes("Categories Of") == [(7, ())]  # what the categories are of is no class
    assert classes("One Category") == [(1, ())]
    assert classes("Binary Alone") == [(2, ())]
    assert classes("Bare Count") == [(21, ())]
    assert classes("Unbracketed") == [(3, ("red", "green", "blue"))]
    # a miscount keeps the stated count and every name, for the report to show
    [miscounted] = by_name(result, "Miscounted").label_classes
    assert (miscounted.count, miscounted.disagrees) == (2, True)
    assert not any(c.disagrees for r in result.records if r.name != "Miscounted"
                   for c in r.label_classes)


def test_qualifiers_and_task_lists_are_no_label_classes(real_settings) -> None:
    from medkg.sources import extra_sources

    folder = FIXTURES / "label-classes"
    (result,), _ = read_all(real_settings, extra_sources([str(folder)], set()))
    for name in ("Qualifiers", "Hierarchy Levels", "Tasks Not Classes", "Translation",
                 "No Task Before"):
        assert by_name(result, name).label_classes == [], name

    def unmatched(name: str) -> list[str]:
        return [m.text for m in by_name(result, name).mentions
                if m.kind == "task" and not m.concepts]

    # qualifiers stay task mentions, reported as before; class names never are
    assert unmatched("Qualifiers") == ["wsi level", "256×256", "multitask learning"]
    assert unmatched("Hierarchy Levels") == ["hierarchy"]  # "(3)" may count its levels
    assert unmatched("Translation") == ["4 Categories of Critical Biomarkers"]
    for name in ("Counted Names", "Slash Kept Whole", "Versus", "Categories Of",
                 "Binary Slash", "Bare Count", "Miscounted"):
        assert unmatched(name) == [], name
    # a qualifier that names a task concept through a vocabulary label maps to it
    binary = "https://w3id.org/medkg/task/binary-classification"
    assert binary in by_name(result, "Binary Alone").tasks
    assert binary in by_name(result, "Binary Slash").tasks
