import pytest

from benchmarks.readme import ROOT, blocks, pages, refresh, stale


def test_every_page_with_tables_is_kept():
    names = [p.relative_to(ROOT).as_posix() for p in pages()]
    assert {"README.md", "docs/results.md", "docs/usage.md",
            "colorizer/weights/README.md"} <= set(names)
    card = [path for path, _ in blocks((ROOT / "colorizer/weights/README.md").read_text())]
    assert card == ["benchmarks/results/design/hints_card.md"]     # the hint part's figures
    results = [path for path, _ in blocks((ROOT / "docs" / "results.md").read_text())]
    assert "benchmarks/results/study/study_answers.md" in results
    readme = [p for p, _ in blocks((ROOT / "README.md").read_text())]
    assert {"benchmarks/results/headline.md",
            "benchmarks/results/study/study_short.md"} <= set(readme)


def test_the_readmes_study_answer_is_short_and_links_the_whole():
    """About 100 words in plain terms (each defined where used), the rest one link away."""
    text = (ROOT / "benchmarks/results/study/study_short.md").read_text()
    assert len(text.split()) <= 110
    assert "study_conclusion.md" in text and "case 1:" in text and "units²" in text


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_tables_are_their_committed_files(page):
    assert stale(page.read_text()) == []


def test_a_changed_cell_is_caught(tmp_path):
    (tmp_path / "r.md").write_text("| a |\n|---|\n| 1.000 |\n")
    text = "intro\n<!-- results: r.md -->\n| a |\n|---|\n| 1.000 |\n<!-- end results -->\nend\n"
    assert stale(text, tmp_path) == []
    edited = text.replace("1.000", "0.999")
    assert stale(edited, tmp_path) == ["r.md"]
    assert refresh(edited, tmp_path) == text


def test_the_results_index_is_generated_from_the_files():
    from benchmarks import index

    assert index.INDEX.read_text() == index.markdown()
    top = [p.name for p in index.RESULTS.iterdir()]
    assert len(top) <= 12 and "index.md" in top
