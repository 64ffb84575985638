from benchmarks.readme import ROOT, blocks, refresh, stale


def test_readme_tables_are_their_committed_files():
    text = (ROOT / "README.md").read_text()
    paths = [path for path, _ in blocks(text)]
    assert "benchmarks/results/quality.md" in paths and "benchmarks/results/heads.md" in paths
    assert stale(text) == []


def test_a_changed_cell_is_caught(tmp_path):
    (tmp_path / "r.md").write_text("| a |\n|---|\n| 1.000 |\n")
    text = "intro\n<!-- results: r.md -->\n| a |\n|---|\n| 1.000 |\n<!-- end results -->\nend\n"
    assert stale(text, tmp_path) == []
    edited = text.replace("1.000", "0.999")
    assert stale(edited, tmp_path) == ["r.md"]
    assert refresh(edited, tmp_path) == text
