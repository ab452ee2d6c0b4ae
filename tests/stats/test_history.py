"""Run history: archives are kept, latest moves, regressions beyond the previous CI are flagged."""
import pandas as pd

from sabr.analysis.studies.history import archive_run, comparison_markdown, previous_run, regressions


def _summary(gm, lo, hi):
    return pd.DataFrame({"model_type": ["mda_cnn", "mda_cnn", "hagan"], "budget": [50, 100, 50],
                         "rmse_bp_gmean": gm + [900.0], "rmse_bp_lo": lo + [900.0],
                         "rmse_bp_hi": hi + [900.0], "is_reference": [False, False, True]})


def test_regression_beyond_the_previous_interval():
    prev = _summary([100.0, 60.0], [90.0, 55.0], [110.0, 65.0])
    cur = _summary([115.0, 50.0], [100.0, 45.0], [130.0, 55.0])
    r = regressions(cur, prev).set_index("budget")
    assert bool(r.loc[50, "regression"]) and not bool(r.loc[50, "improvement"])
    assert bool(r.loc[100, "improvement"]) and not bool(r.loc[100, "regression"])
    assert abs(r.loc[50, "change_pct"] - 15.0) < 1e-9 and len(r) == 2   # hagan is no model row


def test_archive_keeps_every_run_and_moves_latest(tmp_path):
    (tmp_path / "analysis").mkdir()
    prev = _summary([100.0, 60.0], [90.0, 55.0], [110.0, 65.0])
    prev.to_csv(tmp_path / "analysis" / "performance_summary.csv", index=False)
    (tmp_path / "detailed_results.csv").write_text("a\n1\n")
    assert previous_run(tmp_path) is None
    first = archive_run(tmp_path, "20260101T020000Z-aaaa")
    assert previous_run(tmp_path) == first
    (tmp_path / "detailed_results.csv").write_text("a\n2\n")
    second = archive_run(tmp_path, "20260102T020000Z-bbbb")
    assert (first / "detailed_results.csv").read_text() == "a\n1\n"        # not overwritten
    assert (second / "detailed_results.csv").read_text() == "a\n2\n"
    assert previous_run(tmp_path) == second
    cur = _summary([115.0, 60.0], [100.0, 55.0], [130.0, 65.0])
    md = comparison_markdown(cur, first, fully_cached=False)
    assert md.startswith("Against the previous run (20260101T020000Z-aaaa): 1 regression(s)")
    assert "| mda_cnn | 50 | 115.0 | 100.0 [90.0, 110.0] | +15.0 % |" in md
    assert comparison_markdown(cur, second, fully_cached=True).startswith("Fully cached run")
    assert comparison_markdown(cur, None, fully_cached=False).startswith("First run")


def test_a_copied_folder_whose_latest_link_became_a_folder_archives_again(tmp_path):
    import shutil
    src, copy = tmp_path / "src", tmp_path / "copy"
    (src / "analysis").mkdir(parents=True)
    (src / "detailed_results.csv").write_text("a\n1\n")
    archive_run(src, "20260101T020000Z-aaaa")
    assert (src / "latest").is_symlink()
    shutil.copytree(src, copy)                       # follows links: latest is now a folder
    assert (copy / "latest").is_dir() and not (copy / "latest").is_symlink()
    second = archive_run(copy, "20260102T020000Z-bbbb")
    assert (copy / "latest").is_symlink() and previous_run(copy) == second
    moved = tmp_path / "moved"
    copy.rename(moved)                               # a relative link survives a move
    assert previous_run(moved) == moved / "runs" / "20260102T020000Z-bbbb"
