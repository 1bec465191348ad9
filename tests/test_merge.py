"""Merging entries into datasets: names, landing pages, curation rules, stable slugs."""

from __future__ import annotations

from medkg.merge import Curation, merge, name_key, url_key
from medkg.records import EntryRecord


def entry(source: str, line: int, name: str, *pages: str) -> EntryRecord:
    return EntryRecord(source, line, name, name, landing_pages=list(pages))


def groups(result) -> list[list[str]]:
    return [[f"{e.source_id}:{e.line}" for e in d.entries] for d in result.datasets]


def test_name_key_ignores_case_space_and_punctuation() -> None:
    assert name_key("SegPC-2021") == name_key("segpc 2021") == "segpc2021"
    assert name_key("MIDOG++") != name_key("MIDOG")


def test_url_key_keeps_queries_and_rejects_generic_pages() -> None:
    tcia = "https://wiki.cancerimagingarchive.net/pages/viewpage.action?pageId="
    assert url_key(tcia + "1") != url_key(tcia + "2")
    assert url_key("https://github.com/someone") is None
    assert url_key("https://www.example.org/") is None
    assert url_key("https://www.Example.org/data/") == "example.org/data"


def test_same_name_across_lists_merges() -> None:
    result = merge([entry("a", 1, "PanNuke"), entry("b", 7, "pannuke")], Curation())
    assert groups(result) == [["a:1", "b:7"]]
    assert result.datasets[0].slug == "pannuke"
    assert result.datasets[0].names == ["PanNuke", "pannuke"]


def test_same_landing_page_merges_across_lists_only() -> None:
    url = "https://segpc-2021.grand-challenge.org/"
    across = merge([entry("a", 1, "SegPC21", url), entry("b", 2, "SegPC", url)], Curation())
    assert groups(across) == [["a:1", "b:2"]]
    within = merge([entry("a", 1, "Task 1", url), entry("a", 2, "Task 2", url)], Curation())
    assert groups(within) == [["a:1"], ["a:2"]]


def test_a_challenge_page_one_list_gives_to_several_tasks_joins_nothing_across_lists() -> None:
    # the biomedical list's StructSeg and the navigator's four StructSeg2019 tasks share the
    # challenge page: fusing them all made one dataset of four the navigator keeps apart
    url = "https://structseg2019.grand-challenge.org/"
    result = merge([entry("a", 62, "StructSeg", url), entry("b", 75, "StructSeg2019 Task1", url),
                    entry("b", 76, "StructSeg2019 Task2", url)], Curation())
    assert groups(result) == [["a:62"], ["b:75"], ["b:76"]]
    once = merge([entry("a", 1, "AMOS", url), entry("b", 2, "AMOS 2022", url),
                  entry("b", 3, "amos-2022", url)], Curation())
    assert groups(once) == [["a:1", "b:2", "b:3"]]  # one name per list: the page still joins


def test_same_name_in_one_list_with_different_links_stays_apart() -> None:
    result = merge([entry("a", 1, "Kather et al.", "https://x.org/1"),
                    entry("a", 2, "Kather et al.", "https://x.org/2")], Curation())
    assert groups(result) == [["a:1"], ["a:2"]]
    assert [d.slug for d in result.datasets] == ["kather-et-al", "kather-et-al-2"]
    assert "kept apart" in result.refused[0]


def test_curation_forces_and_forbids() -> None:
    curation = Curation(same=[("bachicia2018", "iciar2018bachtask1")],
                        different={frozenset(("lungalpha", "shiftedset"))})
    result = merge([
        entry("a", 1, "BACH - ICIA2018"), entry("b", 2, "ICIAR 2018 BACH Task1"),
        entry("a", 3, "LungAlpha", "https://x.org/same"), entry("b", 4, "ShiftedSet", "https://x.org/same"),
    ], curation)
    assert ["a:1", "b:2"] in groups(result)
    assert ["a:3"] in groups(result) and ["b:4"] in groups(result)
    assert any("kept apart by curation" in r for r in result.refused)


def test_aliases_rewrite_names_before_merging() -> None:
    curation = Curation(aliases={name_key("PANDA"): name_key("The PANDA challenge")})
    result = merge([entry("a", 1, "The PANDA challenge"), entry("b", 1, "PANDA")], curation)
    assert groups(result) == [["a:1", "b:1"]]


def test_slug_comes_from_first_entry_in_manifest_order() -> None:
    first = merge([entry("a", 5, "SegPC-2021"), entry("b", 1, "segpc 2021")], Curation())
    later = merge([entry("a", 5, "SegPC-2021"), entry("b", 1, "segpc 2021"), entry("c", 1, "SEGPC2021")],
                  Curation())
    assert first.datasets[0].slug == later.datasets[0].slug == "segpc-2021"


def _merge_table(tmp_path, rows: str, entry_rows: str = ""):  # type: ignore[no-untyped-def]
    from medkg.merge import load_curation

    curation = tmp_path / "curation"
    curation.mkdir()
    (curation / "aliases.tsv").write_text("variant\tname\treason\n", encoding="utf-8")
    (curation / "merge.tsv").write_text("name_a\tname_b\tdecision\treason\n" + rows,
                                        encoding="utf-8")
    (curation / "entries.tsv").write_text("entry\tname\treason\n" + entry_rows,
                                          encoding="utf-8")
    return load_curation(tmp_path)


def test_a_decision_that_is_neither_same_nor_different_names_its_line(tmp_path) -> None:
    import pytest

    from medkg.tables import TableError

    with pytest.raises(TableError, match=r"merge\.tsv:3: decision 'smae' is neither"):
        _merge_table(tmp_path, "A\tB\tsame\tok\nC\tD\tsmae\ttypo\n")


def test_rules_that_name_no_entry_are_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    curation = _merge_table(tmp_path, "Alpha\tAlfa\tsame\tspelling\nAlpha\tBeta\tdifferent\tno\n"
                                      "Gamma\tDelta\tdifferent\tneither is listed\n")
    result = merge([entry("a", 1, "Alpha"), entry("b", 2, "Beta")], curation)
    assert result.unused == ["merge.tsv:2 Alpha ~ Alfa", "merge.tsv:4 Gamma ~ Delta"]


def test_an_entry_curated_apart_is_a_dataset_of_its_own(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # list "nav" names NuCLS but describes a gastric dataset; it comes first in manifest order
    page = "https://nucls.grand-challenge.org/"
    curation = _merge_table(tmp_path, "", "nav:206\tNuCLS\tdescribes a gastric dataset\n")
    result = merge([entry("nav", 206, "NuCLS", page), entry("histo", 93, "NuCLS", page),
                    entry("other", 4, "nucls")], curation)
    assert groups(result) == [["nav:206"], ["histo:93", "other:4"]]
    # the dataset the entry was taken from keeps the IRI; the entry takes the next free one
    assert {d.entries[0].location: d.slug for d in result.datasets} == {
        "histo:93": "nucls", "nav:206": "nucls-2"}
    assert result.apart == ["NuCLS (nav:206): a dataset of its own, nucls-2 (entries.tsv:2)"]
    assert result.unused == []


def test_an_entry_rule_whose_line_holds_another_name_is_reported_not_applied(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    # the list was edited: line 206 is another dataset now, and b:9 was never read
    curation = _merge_table(tmp_path, "", "a:206\tNuCLS\tgastric\nb:9\tGone\tno longer listed\n")
    result = merge([entry("a", 206, "WORD"), entry("b", 1, "word")], curation)
    assert groups(result) == [["a:206", "b:1"]]
    assert result.apart == []
    assert result.unused == ["entries.tsv:2 a:206 NuCLS", "entries.tsv:3 b:9 Gone"]


def test_an_entry_that_is_not_list_and_line_names_its_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from medkg.tables import TableError

    with pytest.raises(TableError,
                       match=r"entries\.tsv:2: entry 'NuCLS' is not '<list id>:<line>'"):
        _merge_table(tmp_path, "", "NuCLS\tNuCLS\tno location\n")


def _real_groups(settings) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Every real entry's location -> the locations of the dataset it was merged into."""
    from medkg.build import collect_sources, read_all
    from medkg.merge import load_curation

    results, _ = read_all(settings, collect_sources(settings))
    merged = merge([e for r in results for e in r.records], load_curation(settings.data_dir))
    return {e.location: [m.location for m in d.entries] for d in merged.datasets for e in d.entries}


def test_one_challenge_named_two_ways_in_two_real_lists_is_one_dataset(real_settings) -> None:
    grouped = _real_groups(real_settings)
    # the biomedical list's short name, the navigator's with the edition year (merge.tsv)
    assert grouped["biomedical-imaging:66"] == ["biomedical-imaging:66", "medical-ai-navigator:165"]
    assert grouped["biomedical-imaging:39"] == ["biomedical-imaging:39", "medical-ai-navigator:270"]
    assert grouped["biomedical-imaging:36"] == ["biomedical-imaging:36", "medical-ai-navigator:204"]
    # StructSeg's four tasks stay four datasets, the whole challenge a fifth
    assert grouped["biomedical-imaging:62"] == ["biomedical-imaging:62"]
    assert grouped["medical-ai-navigator:76"] == ["medical-ai-navigator:76"]


def test_the_navigator_row_named_nucls_stays_apart_from_nucls(real_settings) -> None:
    # its text describes a gastric cancer dataset: stomach and 119828 cases stay off NuCLS
    grouped = _real_groups(real_settings)
    assert grouped["medical-ai-navigator:206"] == ["medical-ai-navigator:206"]
    assert grouped["histopathology:93"] == ["histopathology:93"]
