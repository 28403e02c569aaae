"""`tfselect report --out DIR` changes only the report's own files in DIR.

A report lists what it wrote in DIR/.tfselect-report.json; the next report replaces those
files, removes the ones it no longer writes and leaves everything else in DIR alone (files
with report-like names, the folder's mode, a symlinked DIR). The reports here hold extra
tables only (no study: a missing storage is fine then), so each takes milliseconds.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.report import build

MANIFEST = ".tfselect-report.json"
runner = CliRunner()


def _report(tmp_path: Path, out: Path, **tables: int) -> build.Report:
    """A report of the tables ``name=value`` (``a_csv=1`` writes a.csv holding 1)."""
    extra = {name.replace("_", "."): pd.DataFrame({"x": [v]}) for name, v in tables.items()}
    return build.make_report(f"sqlite:///{tmp_path}/none.db", out=out, extra_tables=extra)


def _listed(out: Path) -> list[str]:
    return json.loads((out / MANIFEST).read_text())["files"]


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) but the manifest -> its text."""
    files = (p for p in folder.rglob("*") if p.is_file() and p != folder / MANIFEST)
    return {str(p.relative_to(folder)): p.read_text() for p in files}


def _user_files(out: Path) -> dict[str, str]:
    """A user's own files in ``out``, some named like the report's plots and tables."""
    files = {"pareto_notes.png": "mine", "scatter_sketch.png": "mine", "notes.txt": "mine",
             "trials.csv.bak": "mine", "sub/clip_vocals.png": "mine"}  # fmt: skip
    for name, text in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    return files


def test_files_with_report_like_names_survive(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    mine = _user_files(out)
    _report(tmp_path, out, demix_csv=1)
    _report(tmp_path, out, demix_csv=2)
    assert _tree(out) == {**mine, "demix.csv": "x\n2\n"}
    assert _listed(out) == ["demix.csv"]


def test_folder_mode_is_kept(tmp_path):
    out = tmp_path / "rep"
    out.mkdir(mode=0o700)
    os.chmod(out, 0o700)  # whatever the umask
    _report(tmp_path, out, demix_csv=1)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "demix.csv").stat().st_mode) == 0o644


def test_symlinked_out_stays_a_symlink(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    mine = _user_files(target)
    link = tmp_path / "rep"
    link.symlink_to(target, target_is_directory=True)
    rep = _report(tmp_path, link, demix_csv=1)
    _report(tmp_path, link, demix_csv=2)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert _tree(target) == {**mine, "demix.csv": "x\n2\n"}
    assert rep.files == [link / "demix.csv"]  # named as the user named --out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real", "rep"]  # nothing beside it


def test_dangling_symlinked_out_gets_its_target_created(tmp_path):
    link = tmp_path / "rep"
    link.symlink_to(tmp_path / "later" / "real", target_is_directory=True)
    _report(tmp_path, link, demix_csv=1)
    assert link.is_symlink() and (tmp_path / "later" / "real" / "demix.csv").is_file()


def test_second_report_replaces_its_files_and_removes_its_stale_ones(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    _report(tmp_path, out, a_csv=1, b_csv=1)
    (out / "c.csv").write_text("mine")
    _report(tmp_path, out, a_csv=2)
    assert _tree(out) == {"a.csv": "x\n2\n", "c.csv": "mine"}
    assert _listed(out) == ["a.csv"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_report_leaves_the_previous_one_intact(tmp_path, monkeypatch, error):
    out = tmp_path / "rep"
    out.mkdir()
    _user_files(out)
    _report(tmp_path, out, a_csv=1, b_csv=1)
    before = _tree(out)
    real = build.write_csv

    def fail_second(df, path):
        if path.name == "b.csv":  # a.csv is already written (aside)
            raise error
        return real(df, path)

    monkeypatch.setattr(build, "write_csv", fail_second)
    with pytest.raises(type(error)):
        _report(tmp_path, out, a_csv=2, b_csv=2, c_csv=2)
    assert _tree(out) == before  # the previous report, whole; no staging folder left
    assert _listed(out) == ["a.csv", "b.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]


def test_manifest_entries_outside_the_folder_are_never_removed(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (tmp_path / "precious.csv").write_text("mine")
    (out / "sub").mkdir()
    (out / "sub" / "x.csv").write_text("mine")
    entries = ["../precious.csv", str(tmp_path / "precious.csv"), "sub/x.csv", "sub", "..", ""]
    (out / MANIFEST).write_text(json.dumps({"files": entries}))
    _report(tmp_path, out, a_csv=1)
    assert (tmp_path / "precious.csv").read_text() == "mine"
    assert (out / "sub" / "x.csv").read_text() == "mine"
    assert _listed(out) == ["a.csv"]


def _models(tmp_path: Path) -> list[str]:
    """``--model`` options naming one evaluated demixer (its medians only)."""
    ev = tmp_path / "m" / "eval-test"
    ev.mkdir(parents=True)
    pd.DataFrame({"model": "m", "target": ["vocals"], "SDR": [1.0], "SIR": 1.0, "SAR": 1.0,
                  "ISR": 1.0}).to_csv(ev / "medians.csv", index=False)  # fmt: skip
    return ["--model", str(tmp_path / "m")]


def test_a_users_file_named_like_a_report_file_needs_overwrite(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "demix.csv").write_text("mine")
    args = ["report", "--storage", f"sqlite:///{tmp_path}/none.db", "--out", str(out),
            *_models(tmp_path)]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert err.startswith("tfselect: error: ") and "\n" not in err, err
    assert "demix.csv" in err and "--overwrite" in err
    assert _tree(out) == {"demix.csv": "mine"}  # nothing written, nothing left aside
    res = runner.invoke(app, [*args, "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "demix.csv").read_text().startswith("model,")
    assert _listed(out) == ["demix.csv"]
    res = runner.invoke(app, args)  # now the report's own: replaced without --overwrite
    assert res.exit_code == 0, res.output
