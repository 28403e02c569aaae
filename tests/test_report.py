"""`tfselect report` and `tfselect best` on a real (short) search, checked against pandas.

The module fixture runs a search and the report as the demo runs them (tests/test_demo.py
runs the whole demo), with a small space and one 2-second clip so it takes seconds; every
table is then recomputed from trials.csv with plain pandas and compared.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SMALL_STUDY, cli_env, one_line_error
from scipy import stats

from tfselect.report.best import read_best
from tfselect.report.tables import correlation_row, pareto_mask, partial_from


def _tfselect(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "tfselect", *args], cwd=cwd, env=cli_env(),
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, f"{args}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def _make_demo_commands() -> tuple[list[str], list[str]]:
    """A 6-trial vocals search and its report, with the demo's storage and report folder."""
    url, out = "sqlite:///studies/demo.db", "reports/demo"
    search = ["search", "--target", "vocals", "--trials", "6", "--study", "demo", "--storage", url]
    return search, ["report", "--study", "demo", "--storage", url, "--out", out]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_root):
    """`make demo`'s commands (6 vocals trials, then the report) on a small space and 2-s clips,
    plus a 3-trial drums study with a weighted objective so the report holds two studies."""
    d = tmp_path_factory.mktemp("demo")
    (d / "small.toml").write_text(SMALL_STUDY)
    search, report = _make_demo_commands()
    url = search[search.index("--storage") + 1]
    assert url == "sqlite:///studies/demo.db"  # relative: created under the working directory
    # Later options win: the test's config, demo_root and clip length replace the defaults.
    fast = ["--config", "small.toml", "--root", str(demo_root), "--seconds", "2", "--quiet"]
    out = _tfselect(d, *search, *fast)
    assert "this run: 6 new candidate(s)" in out.stdout and "study demo now holds" in out.stdout
    _tfselect(d, "search", "--target", "drums", "--trials", "3", "--study", "drums-w",
              "--objective", "mpi + 0.5*irm1", "--storage", url, *fast)  # fmt: skip
    # The report of every study in the storage (make demo names --study demo only).
    args = [a for i, a in enumerate(report) if a != "--study" and report[i - 1] != "--study"]
    rep = _tfselect(d, *args, "--bootstrap", "200")
    assert "report of 2 studies" in rep.stdout
    return d, url, d / report[report.index("--out") + 1]


def _read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name)


def test_report_files_and_plots(demo):
    d, _, out = demo
    assert (d / "studies" / "demo.db").exists()
    for name in ("trials.csv", "best.csv", "correlations.csv", "pareto.csv"):
        assert (out / name).stat().st_size > 0
    for target in ("vocals", "drums"):
        for kind in ("scatter", "pareto", "clip"):
            png = out / f"{kind}_{target}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    # Atomic writes leave no temporary file behind; the manifest lists every file written.
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".tfselect-report.json"]
    listed = json.loads((out / ".tfselect-report.json").read_text())["files"]
    assert listed == sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


def test_trials_csv(demo):
    _, _, out = demo
    t = _read(out, "trials.csv")
    assert list(t.columns[:9]) == [
        "study", "target", "objective", "number", "state", "spec", "kind", "bins", "value",
    ]  # fmt: skip
    assert len(t) == 9 and set(t["study"]) == {"demo", "drums-w"}
    assert {"mpi_mean", "irm1_mean", "gini_mean", "hoyer_mean", "redundancy_mean", "n_clips",
            "n_metric_clips", "duration_s", "fail_reason"} <= set(t.columns)  # fmt: skip
    done = t[t["state"] == "COMPLETE"]
    assert len(done) >= 6
    v = done[done["study"] == "demo"]
    np.testing.assert_allclose(v["value"], v["mpi_mean"])  # objective mpi = its metric
    w = done[done["study"] == "drums-w"]
    np.testing.assert_allclose(w["value"], w["mpi_mean"] + 0.5 * w["irm1_mean"])
    stft = done[done["kind"] == "stft"]
    np.testing.assert_array_equal(
        stft["bins"], stft["spec"].str.extract(r"n_fft=(\d+)")[0].astype(int) // 2 + 1
    )
    pruned = t[t["state"] == "PRUNED"]
    assert all(isinstance(r, str) and r for r in pruned["fail_reason"])


def test_best_csv_contract_and_recomputation(demo):
    d, url, out = demo
    t = _read(out, "trials.csv")
    b = _read(out, "best.csv")
    assert {"target", "objective", "candidate", "spec", "value", "mpi_mean", "gini_mean",
            "n_clips", "n_metric_clips"} <= set(b.columns)  # fmt: skip
    assert set(b["candidate"]) == {"best", "stft", "xumx-slicq"}
    for (target, objective), rows in b.groupby(["target", "objective"], sort=False):
        assert rows.iloc[0]["candidate"] == "best"
        assert (rows["candidate"] == "best").sum() == 1
        done = t[(t["target"] == target) & (t["objective"] == objective)]
        done = done[done["state"] == "COMPLETE"]
        best = done.loc[done["value"].idxmax()]
        row = rows.iloc[0]
        assert row["value"] == pytest.approx(best["value"])
        assert row["spec"] == best["spec"]
        refs = rows.set_index("candidate")
        assert refs.loc["stft", "spec"] == "stft:n_fft=4096,hop=1024"
        assert refs.loc["xumx-slicq", "spec"] == "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"
        if objective == "mpi":
            np.testing.assert_allclose(rows["value"], rows["mpi_mean"])
        else:
            np.testing.assert_allclose(rows["value"], rows["mpi_mean"] + 0.5 * rows["irm1_mean"])
    specs = read_best(out / "best.csv", targets=("vocals", "drums"))
    assert specs["vocals"] == b[(b.target == "vocals") & b.selected].iloc[0]["spec"]
    best = read_best(out / "best.csv", select="best")
    assert best["vocals"] == b[(b.target == "vocals") & (b.candidate == "best")].iloc[0]["spec"]
    assert b.groupby(["target", "objective"])["selected"].sum().eq(1).all()
    # `tfselect best` prints the same spec from the study itself.
    res = _tfselect(d, "best", "--target", "vocals", "--storage", url)
    assert res.stdout.strip() == specs["vocals"]
    res = _tfselect(d, "best", "--target", "drums", "--storage", url, "--study", "drums-w")
    assert res.stdout.strip() == specs["drums"]


def test_correlations_equal_pandas(demo):
    _, _, out = demo
    t = _read(out, "trials.csv")
    c = _read(out, "correlations.csv")
    assert set(c["oracle"]) == {"mpi_mean", "irm1_mean"}
    assert {"bins", "redundancy_mean", "gini_mean", "hoyer_mean"} <= set(c["predictor"])
    assert set(c.loc[c["predictor"].isin(["bins", "redundancy_mean"]), "group"]) == {"baseline"}
    red = "redundancy_mean"
    data = t[t["state"] == "COMPLETE"].drop_duplicates(["target", "spec"])
    checked = 0
    for _, r in c.iterrows():
        sub = data[data["target"] == r["target"]]
        cols = [r["predictor"], r["oracle"], red]
        clean = sub[list(dict.fromkeys(cols))].dropna()
        assert r["n"] == len(clean)
        if len(clean) < 3:
            continue
        sp = clean.corr(method="spearman")
        kd = clean.corr(method="kendall")
        x, y = r["predictor"], r["oracle"]
        assert r["spearman"] == pytest.approx(sp.loc[x, y], nan_ok=True)
        assert r["kendall"] == pytest.approx(kd.loc[x, y], nan_ok=True)
        if x != red and len(clean) >= 4:
            den = np.sqrt((1 - sp.loc[x, red] ** 2) * (1 - sp.loc[y, red] ** 2))
            with np.errstate(invalid="ignore", divide="ignore"):
                expect = (sp.loc[x, y] - sp.loc[x, red] * sp.loc[y, red]) / den
            expect = expect if den > 0 else np.nan  # undefined when x or y is redundancy's twin
            assert r["partial_spearman"] == pytest.approx(expect, nan_ok=True)
        else:
            assert np.isnan(r["partial_spearman"])
        if np.isfinite(r["spearman_lo"]):
            assert r["spearman_lo"] <= r["spearman_hi"]
        for base, bcol in (("bins", "bins"), ("redundancy", red)):
            if r["group"] == "baseline":
                assert np.isnan(r[f"minus_{base}"])
                continue
            both = sub[list(dict.fromkeys([x, bcol, y]))].dropna()
            if len(both) >= 3:
                s2 = both.corr(method="spearman")
                expect = abs(s2.loc[x, y]) - abs(s2.loc[bcol, y])
                assert r[f"minus_{base}"] == pytest.approx(expect, nan_ok=True)
        checked += 1
    assert checked >= 8


def test_rank_gain_interval_separates_a_real_predictor_from_the_baseline():
    from tfselect.report.tables import rank_gain

    rng = np.random.default_rng(0)
    y = rng.normal(size=40)
    good = y + rng.normal(0, 0.2, 40)  # ranks the oracle well
    noise = rng.normal(size=40)  # the trivial predictor knows nothing
    value, lo, hi = rank_gain(good, noise, y, 500, np.random.default_rng(1))
    expect = abs(stats.spearmanr(good, y)[0]) - abs(stats.spearmanr(noise, y)[0])
    assert value == pytest.approx(expect) and 0 < lo < value < hi
    value, lo, hi = rank_gain(noise, good, y, 500, np.random.default_rng(1))
    assert value < 0 and hi < 0
    # Backwards is as informative as forwards: |rho|.
    assert rank_gain(-good, noise, y, 0, np.random.default_rng(1))[0] == pytest.approx(expect)


def test_pareto_equals_bruteforce(demo):
    _, _, out = demo
    t = _read(out, "trials.csv")
    p = _read(out, "pareto.csv")
    assert set(p["cost_metric"]) == {"redundancy_mean"}
    data = t[t["state"] == "COMPLETE"].drop_duplicates(["target", "spec"])
    for (target, q, c), front in p.groupby(["target", "quality_metric", "cost_metric"]):
        sub = data[data["target"] == target].dropna(subset=[q, c])
        expect = set()
        for _, a in sub.iterrows():
            dominated = any(
                (b[q] >= a[q] and b[c] <= a[c]) and (b[q] > a[q] or b[c] < a[c])
                for _, b in sub.iterrows()
            )
            if not dominated:
                expect.add(a["spec"])
        assert set(front["spec"]) == expect
        assert front["cost"].is_monotonic_increasing


# ----------------------------------------------------------------------------- units
def test_pareto_mask_matches_bruteforce():
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.integers(0, 6, 12).astype(float)
        c = rng.integers(0, 6, 12).astype(float)
        keep = pareto_mask(q, c)
        for i, j in itertools.product(range(12), repeat=2):
            if (q[j] >= q[i] and c[j] <= c[i]) and (q[j] > q[i] or c[j] < c[i]):
                assert not keep[i]
        # every non-dominated distinct point is kept once
        pts = {(q[i], c[i]) for i in range(12) if keep[i]}
        assert len(pts) == keep.sum()


def test_correlation_row_and_partial():
    rng = np.random.default_rng(0)
    z = rng.normal(size=60)
    x = z + 0.1 * rng.normal(size=60)
    y = z + 0.1 * rng.normal(size=60)
    r = correlation_row(x, y, z, n_boot=300, rng=np.random.default_rng(1))
    assert r["n"] == 60
    assert r["spearman"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert r["kendall"] == pytest.approx(stats.kendalltau(x, y).statistic)
    assert r["spearman_lo"] < r["spearman"] < r["spearman_hi"]
    # x and y only share z: given z, little is left.
    assert abs(r["partial_spearman"]) < 0.4 < r["spearman"]
    assert float(partial_from(0.5, 0.0, 0.0)) == 0.5
    small = correlation_row(x[:2], y[:2], None, 100, np.random.default_rng(0))
    assert small["n"] == 2 and np.isnan(small["spearman"])


def test_report_adds_demix_csv_from_evaluated_models(demo, tmp_path, monkeypatch):
    """`report --model DIR ...` gathers each evaluated demixer's medians into demix.csv.

    In process (the fixture runs the commands as subprocesses already), from the demo's folder
    that the relative storage URL names."""
    from typer.testing import CliRunner

    from tfselect.cli import app

    d, url, _ = demo
    monkeypatch.chdir(d)
    models = []
    for k, name in enumerate(("per-target", "shared-slicqt", "stft")):
        ev = tmp_path / name / "eval-test"
        ev.mkdir(parents=True)
        med = pd.DataFrame({"model": name, "target": ["vocals", "drums", "bass", "other"],
                            "SDR": [3.0 + k, 4.0, 5.0, 2.0 - k], "SIR": 1.0, "SAR": 2.0,
                            "ISR": 3.0})  # fmt: skip
        med.to_csv(ev / "medians.csv", index=False)
        models += ["--model", str(tmp_path / name)]
    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["report", "--storage", url, "--out", str(out), "--no-plots",
                                 "--bootstrap", "0", *models])  # fmt: skip
    assert r.exit_code == 0, r.output
    demix = _read(out, "demix.csv")
    assert list(demix["model"].unique()) == ["per-target", "shared-slicqt", "stft"]
    sdr = demix.set_index(["model", "target"])["SDR"]
    assert sdr["shared-slicqt", "vocals"] == 4.0 and sdr["stft", "other"] == 0.0
    # A model folder that was never evaluated: one line, exit 2.
    (tmp_path / "raw").mkdir()
    r = CliRunner().invoke(app, ["report", "--storage", url, "--out", str(out / "unwritten"),
                                 "--no-plots", "--model", str(tmp_path / "raw")])  # fmt: skip
    one_line_error(r, "tfselect evaluate")
    assert not (out / "unwritten").exists()  # checked before any report file is written


def test_best_command_and_best_csv_agree_across_studies(tmp_path, demo_root, small_study):
    """Two vocals studies with the same objective: `best` picks what best.csv picks."""
    from tfselect.report.best import best_spec
    from tfselect.report.selection import best_frame
    from tfselect.search.config import load_config
    from tfselect.search.run import run_search
    from tfselect.search.storage import open_storage
    from tfselect.search.study import tagged_studies

    url = f"sqlite:///{tmp_path}/two.db"
    cfg = load_config(small_study)
    for name, trials, seed in (("big", 3, 0), ("small", 2, 7)):
        c = cfg.__class__(**{**cfg.__dict__, "search": cfg.search.__class__(
            **{**cfg.search.__dict__, "seed": seed})})  # fmt: skip
        run_search("vocals", storage=url, study=name, config=c, root=demo_root, trials=trials,
                   progress=False)  # fmt: skip
    frame = best_frame(tagged_studies(open_storage(url), target="vocals"))
    row = frame[frame["candidate"] == "best"].iloc[0]
    values = [best_spec(url, "vocals", s, select="best")[2] for s in ("big", "small")]
    assert row["value"] == max(values)
    assert best_spec(url, "vocals", select="best") == (row["spec"], row["study"], row["value"])
    sel = frame[frame["selected"]].iloc[0]
    assert best_spec(url, "vocals") == (sel["spec"], sel["study"], sel["value"])
