"""What `tfselect report` prints fits the terminal: best.csv as a table when it fits, else
two lines per row under a heading per target, never a line wider than the terminal."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.cli.present import _wrap_spec, best_lines

XUMX = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"
STFT = "stft:n_fft=4096,hop=1024"
HAMMING = "stft:n_fft=8192,hop=4096,window=hamming"
LONG = "mrstft:edges=120.5,2400.25,9000.75,n_ffts=16384,8192,4096,1024,overlap=4,window=blackman"
ND = "not distinguishable"
# (target, candidate, spec, value, versus, diff, lo, hi, p, tracks, verdict, selected)
ROWS = [
    ("bass", "best", HAMMING, 7.62, "xumx-slicq", 0.09, -0.06, 0.25, 0.64, 8, ND, False),
    ("bass", "stft", STFT, 7.27, "best", -0.35, -0.64, -0.10, 0.039, 8, "worse", False),
    ("bass", "xumx-slicq", XUMX, 7.54, "best", -0.09, -0.25, 0.06, 0.64, 8, ND, True),
    ("drums", "best", STFT, 12.34, None, None, None, None, None, None, "reference", True),
    ("drums", "stft", STFT, 12.34, None, None, None, None, None, None, "is the best", False),
    ("drums", "xumx-slicq", XUMX, 12.24, "best", -0.10, -0.25, 0.08, 0.31, 8, ND, False),
    ("other", "best", LONG, 8.53, "xumx-slicq", 0.20, 0.15, 0.26, 0.0078, 12, "better", True),
    ("other", "stft", STFT, 8.28, "best", -0.25, -0.34, -0.19, 0.0078, 8, "worse", False),
]  # fmt: skip


def _best_csv(path: Path) -> pd.DataFrame:
    cols = ["target", "candidate", "spec", "value", "versus", "diff", "ci_low", "ci_high",
            "p_value", "n_tracks", "verdict", "selected"]  # fmt: skip
    df = pd.DataFrame(ROWS, columns=cols)
    df.insert(1, "objective", "mpi")
    df["n_paired"] = df["n_tracks"] * 3
    df["stage"] = "race"
    df.to_csv(path, index=False)
    return df


def _fake_report(monkeypatch, tmp_path: Path) -> Path:
    """`tfselect report` without a study: the API writes best.csv and names its files."""
    import tfselect.api.reporting as api

    def report(storage, study, out, *args):
        out.mkdir(parents=True, exist_ok=True)
        _best_csv(out / "best.csv")
        files = [str(out / n) for n in ("trials.csv", "best.csv", "correlations.csv")]
        files += [str(out / f"scatter_{t}.png") for t in ("bass", "drums", "other")]
        return SimpleNamespace(studies=["demo-bass", "demo-drums"], n_trials=16, files=files,
                               warnings=[])  # fmt: skip

    monkeypatch.setattr(api, "report", report)
    # A long --out: pytest's own folder and then some, longer than half the terminal.
    return tmp_path / ("a-long-report-folder-name" * 2) / "reports"


@pytest.mark.parametrize("columns", [80, 60])
def test_report_output_fits_the_terminal(monkeypatch, tmp_path, columns):
    out = _fake_report(monkeypatch, tmp_path)
    res = CliRunner().invoke(app, ["report", "--out", str(out)],
                             env={"COLUMNS": str(columns), "NO_COLOR": "1"})  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(x) for x in lines[1:]) <= columns, res.output  # the first names --out
    text = res.output.replace("\n", " ")
    for _target, _cand, spec, *_ in ROWS:
        # every spec is there, whole once the wrapped pieces are joined
        assert spec in re.sub(r",\s+", ",", text), spec
    assert "xumx-slicq*" in res.output and "3 plots: {scatter_*}.png" in res.output
    assert "trials.csv, best.csv, correlations.csv" in res.output


def test_a_wide_terminal_gets_one_table_row_per_row(monkeypatch, tmp_path):
    out = _fake_report(monkeypatch, tmp_path)
    res = CliRunner().invoke(app, ["report", "--out", str(out)],
                             env={"COLUMNS": "300", "NO_COLOR": "1"})  # fmt: skip
    assert res.exit_code == 0, res.output
    body = [x for x in res.output.splitlines() if x.startswith("│")]
    assert len(body) == len(ROWS)
    for line, (target, cand, spec, value, *_rest) in zip(body, ROWS, strict=True):
        cells = [c.strip() for c in line.strip("│").split("│")]
        assert cells[0] == target and cells[2].rstrip("*") == cand and cells[3] == spec
        assert cells[4] == f"{value:.2f}"
    assert max(len(x) for x in res.output.splitlines()) <= 300


def test_narrow_lines_hold_every_row_in_order(tmp_path):
    df = _best_csv(tmp_path / "best.csv")
    lines = best_lines(pd.read_csv(tmp_path / "best.csv"), 80)
    assert max(map(len, lines)) <= 80
    # One heading per target; the units there when its rows share them.
    heads = [x for x in lines if x and not x.startswith(" ") and " · " in x]
    assert heads == ["bass · mpi · over 8 tracks", "drums · mpi · over 8 tracks",
                     "other · mpi"]  # fmt: skip
    text = "\n".join(lines)
    # Each row's first line: candidate, value, start of the spec, in best.csv's order.
    starts = [i for i, x in enumerate(lines) if re.match(r"  \S", x) and "value" not in x]
    assert len(starts) == len(df)
    for i, row in zip(starts, df.itertuples(), strict=True):
        words = lines[i].split()
        assert words[0].rstrip("*") == row.candidate and words[1] == f"{row.value:.2f}"
        assert words[0].endswith("*") == bool(row.selected)
    assert "+0.20 [+0.15, +0.26]  p 0.0078  over 12 tracks  better than xumx-slicq" in text
    assert "-0.35 [-0.64, -0.10]  p 0.039  worse than best" in text


@pytest.mark.parametrize("width", [8, 20, 33, 60])
def test_wrap_spec_cuts_after_commas(width):
    pieces = _wrap_spec(LONG, width)
    assert "".join(pieces) == LONG
    assert all(len(p) <= width for p in pieces)
    for piece in pieces[:-1]:  # a cut inside a field only where the field alone is too long
        assert piece.endswith(",") or len(piece) == width
    assert _wrap_spec(STFT, 80) == [STFT]


def test_demo_summary_fits_80_columns(tmp_path, monkeypatch):
    """scripts/demo.sh's summary: per target the row train-best used (value, spec, the
    difference to the reference with its interval, p with two significant digits, the
    verdict), the median SDRs, the stems; no line wider than 80 columns but the paths."""
    from tfselect.cli.demo_summary import summary_lines

    monkeypatch.chdir(tmp_path)  # relative paths, as the demo prints them
    Path("reports/demo").mkdir(parents=True)
    df = _best_csv(Path("reports/demo/best.csv"))
    sdr = {"models/demo": [0.5, 2.215, -1.344], "models/demo-stft": [0.25, float("nan"), 3.0]}
    for model, values in sdr.items():
        Path(model, "eval-test").mkdir(parents=True)
        pd.DataFrame({"target": ["bass", "drums", "other"], "SDR": values}).to_csv(
            Path(model, "eval-test", "medians.csv"), index=False
        )
    Path("separated/demo/song").mkdir(parents=True)
    Path("separated/demo/song/bass.wav").write_bytes(b"")
    lines = summary_lines("reports/demo/best.csv", "separated/demo", list(sdr), 80)
    assert max(len(x) for x in lines if "separated/demo" not in x) <= 80, "\n".join(lines)
    text = "\n".join(lines)
    specs = re.sub(r",\s+", ",", text)  # a wrapped spec joined again
    # One entry per target: its selected row, and no other row of best.csv.
    starts = [x.split() for x in lines if re.match(r"  \S", x) and "value" not in x]
    starts = [words for words in starts if not words[0].startswith("separated")]
    selected = df[df["selected"]]
    assert len(starts) == len(selected) == 3
    for words, row in zip(starts, selected.itertuples(), strict=True):
        assert words[0] == f"{row.candidate}*" and words[1] == f"{row.value:.2f}"
        assert row.spec in specs
    for row in df[~df["selected"]].itertuples():
        assert not re.search(rf"^  {row.candidate}\*?\s+{row.value:.2f}\s", text, re.M), row
    assert "-0.09 [-0.25, +0.06]  p 0.64  not distinguishable from best" in text
    assert "other · mpi · over 12 tracks" in lines
    assert "      +0.20 [+0.15, +0.26]  p 0.0078  better than xumx-slicq" in lines
    assert not re.search(r"\b0\.00\b", text) and "nan" not in text.replace("NaN", "").lower()
    # The median SDR per target and model (named by its folder), two decimals.
    head = next(i for i, x in enumerate(lines) if x.startswith("== median SDR"))
    assert lines[head + 1].split() == ["target", "demo", "demo-stft"]
    for i, target in enumerate(["bass", "drums", "other"]):
        want = [f"{v[i]:.2f}" if v[i] == v[i] else "NaN" for v in sdr.values()]
        assert lines[head + 2 + i].split() == [target, *want]
    assert lines[-1] == "  separated/demo/song/bass.wav"


def test_compare_table_keeps_whole_verdicts_at_80_columns(monkeypatch, capsys):
    """`compare`'s table at 80 columns: no line wider, and a long verdict wraps at its space
    instead of losing its end."""
    from tfselect.cli.present_checks import print_compare

    monkeypatch.setenv("COLUMNS", "80")
    rows = []
    for target, verdict in (("vocals", "worse"), ("bass", ND), ("all", "better")):
        for score in ("csdr", "usdr", "si_sdr"):
            rows.append({"config": "selected", "target": target, "score": score,
                         "diff": -0.04, "ci_low": -0.19, "ci_high": 0.09, "p_value": 1.0,
                         "n_tracks": 10, "tracks_won": 6, "verdict": verdict})  # fmt: skip
    plan = SimpleNamespace(params={"selected": 3.27e6, "stft": 2.25e6}, budget="150 steps",
                           seeds=[0, 1, 2])  # fmt: skip
    print_compare(SimpleNamespace(summary=pd.DataFrame(rows), transfer=None, plan=plan,
                                  files=[]))  # fmt: skip
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 80, out
    assert "distinguishable" in out and "…" not in out, out
