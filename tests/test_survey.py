"""tfselect survey: the Sobol design, the study, and the statistics of its report.

The statistics are checked against independent definitions written here (scipy's
spearmanr, least squares by numpy, explicit loops), never against the code's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from tests.conftest import SMALL_SPACE, one_line_error
from tfselect.cli import app
from tfselect.report import survey as rs
from tfselect.search import survey as ss
from tfselect.search.config import load_config
from tfselect.search.space import SearchSpace
from tfselect.transforms import TransformSpec

TINY = SMALL_SPACE + """[clips]
n_clips = 1
seconds = 1.0
max_tracks = 3
[search]
metrics = ["mpi", "gini", "redundancy"]
"""


def test_design_fills_the_space_without_repeats():
    space = SearchSpace(scales=("bark", "mel"), bins=(12, 100), fmin=(40.0, 120.0),
                        stft_n_fft=(1024, 2048))  # fmt: skip
    specs = ss.design_specs(space, 32, seed=3)
    assert specs == ss.design_specs(space, 32, seed=3)  # seeded
    assert len(specs) == len(set(specs)) >= 20
    parsed = [TransformSpec.parse(s) for s in specs]
    families = {p.scale or p.kind for p in parsed}
    assert families == {"bark", "mel", "stft"}  # every choice of the scale axis is drawn
    for p in parsed:
        if p.kind == "stft":
            assert 1024 <= p.n_fft <= 2048 and p.n_fft % 512 == 0
        else:
            assert 12 <= p.bins <= 100 and 40.0 <= p.fmin <= 120.0
    fmins = sorted(p.fmin for p in parsed if p.kind == "slicqt")
    # space-filling: the sliCQT fmins spread over the range, no half of it left empty
    assert fmins[0] < 60 and fmins[-1] > 100


def _fake_scorer(spec, target, metrics, device):
    """mpi grows with log bins plus a per-clip offset; gini = mpi + a small spec wobble."""
    s = TransformSpec.parse(spec)
    bins = s.n_fft // 2 + 1 if s.kind == "stft" else s.bins
    wobble = (hash(str(s)) % 7) / 70.0

    def score(clip, want):
        mpi = math.log(bins) + 0.1 * clip.start / 44100
        out = {"mpi": mpi, "gini": mpi + wobble, "redundancy": 1.0 + wobble}
        return {m: out[m] for m in want if m in out}

    return score


def test_survey_scores_every_point_on_every_clip_and_resumes(tmp_path, demo_root):
    (tmp_path / "t.toml").write_text(TINY)
    cfg = load_config(tmp_path / "t.toml")
    url = f"sqlite:///{tmp_path}/s.db"
    kw = dict(storage=url, config=cfg, root=demo_root, candidates=6, progress=False,
              scorer=_fake_scorer)  # fmt: skip
    first = ss.run_survey("vocals", **kw)
    n_specs = len(ss.design_specs(cfg.space, 6, cfg.search.seed))
    assert first.points == n_specs + 2 and first.complete == first.points and first.missing == 0
    assert ss.run_survey("vocals", **kw).ran == 0  # nothing left: a rerun scores nothing

    import optuna

    from tfselect.search.storage import open_storage
    from tfselect.search.study import read_tags, tagged_studies

    st = optuna.load_study(study_name="survey-vocals", storage=url)
    n_pool = len(read_tags(st).pool)
    for t in st.trials:
        per_clip = t.user_attrs[ss.CLIP_METRICS]
        assert set(per_clip) == {"mpi", "gini", "redundancy"}
        assert len(per_clip["mpi"]) == n_pool  # every clip, every metric: no racing
    store = open_storage(url, create=False)
    assert tagged_studies(store) == []  # a survey is no search: report/best skip it
    assert [s.study_name for s in tagged_studies(store, surveys=True)] == ["survey-vocals"]
    with pytest.raises(ss.TfselectError, match="survey"):  # another design size
        ss.run_survey("vocals", **(kw | {"candidates": 8}))

    # A survey scores every clip: the confirmation split's keys are not its business, so
    # another split in the config (or a survey tagged before the split existed) resumes.
    (tmp_path / "c.toml").write_text(TINY.replace("[clips]", "[clips]\nconfirm = 0.5"))
    assert ss.run_survey("vocals", **(kw | {"config": load_config(tmp_path / "c.toml")})).ran == 0
    tag = st.user_attrs["tfselect"]
    assert not {"confirm", "confirm_min"} & set(tag["clips"])

    df = rs.survey_frame([st])
    assert len(df) == first.points
    # per-track columns: the mean over tracks of them is the candidate's value
    cols = [c for c in df.columns if c.startswith("mpi@")]
    assert len(cols) == 3
    assert np.allclose(df[cols].mean(axis=1), df["mpi"])


def _frame(n_cand=30, n_track=6, seed=0):
    """A survey frame: oracle = f(bins) + noise; 'hoyer' tracks the oracle closely,
    'gini' is noise."""
    rng = np.random.default_rng(seed)
    bins = rng.integers(10, 1000, n_cand).astype(float)
    quality = rng.normal(size=n_cand)
    rows = []
    for i in range(n_cand):
        row = {"target": "vocals", "spec": f"s{i}", "family": ["stft", "bark", "mel"][i % 3],
               "bins": bins[i], "redundancy": 1 + (i % 4)}  # fmt: skip
        for t in range(n_track):
            row[f"mpi@t{t}"] = quality[i] + 0.3 * rng.normal()
            row[f"hoyer@t{t}"] = quality[i] + 0.1 * rng.normal()
            row[f"gini@t{t}"] = rng.normal()
        rows.append(row)
    df = pd.DataFrame(rows)
    for m in ("mpi", "hoyer", "gini"):
        df[m] = df[[f"{m}@t{t}" for t in range(n_track)]].mean(axis=1)
    return df


def test_predictors_spearman_and_verdicts():
    df = _frame()
    pred = rs.predictors_frame(df, n_boot=300, seed=0).set_index("predictor")
    for p in ("bins", "hoyer", "gini"):
        want = stats.spearmanr(df[p], df["mpi"]).statistic
        assert pred.loc[p, "spearman"] == pytest.approx(want)
        assert pred.loc[p, "spearman_lo"] <= pred.loc[p, "spearman"] <= pred.loc[p, "spearman_hi"]
    assert pred.loc["hoyer", "verdict"] == "beats trivial"  # it carries the quality
    assert pred.loc["gini", "verdict"] != "beats trivial"  # noise does not
    best = pred.loc["hoyer", "best_trivial"]
    gain = abs(pred.loc["hoyer", "spearman"]) - abs(pred.loc[best, "spearman"])
    assert pred.loc["hoyer", "gain"] == pytest.approx(gain)


def test_partial_spearman_is_the_correlation_of_rank_residuals():
    rng = np.random.default_rng(1)
    n = 25
    x, y = rng.normal(size=n), rng.normal(size=n)
    z = rng.normal(size=(n, 2))
    got = rs.partial_rows(x[None], y[None], z[None])[0]
    # independent: ranks, least squares on [1, rank z1, rank z2] per variable, Pearson
    design = np.column_stack([np.ones(n), stats.rankdata(z[:, 0]), stats.rankdata(z[:, 1])])
    res = [r - design @ np.linalg.lstsq(design, r, rcond=None)[0]
           for r in (stats.rankdata(x), stats.rankdata(y))]  # fmt: skip
    assert got == pytest.approx(stats.pearsonr(*res).statistic)
    # with a single z it is the textbook formula of the three pairwise correlations
    rxy, rxz, ryz = (stats.spearmanr(a, b).statistic for a, b in ((x, y), (x, z[:, 0]),
                                                                   (y, z[:, 0])))
    textbook = (rxy - rxz * ryz) / math.sqrt((1 - rxz**2) * (1 - ryz**2))
    assert rs.partial_rows(x[None], y[None], z[None, :, :1])[0] == pytest.approx(textbook)


def test_ridge_is_least_squares_without_penalty_and_leaves_the_group_out():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 3))
    y = x @ [1.0, -2.0, 0.5] + 3 + 0.1 * rng.normal(size=20)
    a = np.column_stack([np.ones(20), x])
    ols = a @ np.linalg.lstsq(a, y, rcond=None)[0]
    assert np.allclose(rs.ridge_fit_predict(x, y, x, alpha=0.0), ols)
    groups = np.repeat(["a", "b", "c", "d"], 5)
    pred = rs.out_of_fold(x, y, groups)
    y2 = y.copy()
    y2[groups == "a"] += 100.0  # a group's own values never enter its predictions
    assert np.allclose(rs.out_of_fold(x, y2, groups)[groups == "a"], pred[groups == "a"])


def test_survey_command_runs_on_the_demo_corpus(tmp_path, demo_root):
    cfg = tmp_path / "t.toml"
    cfg.write_text(TINY.replace("max_tracks = 3", "max_tracks = 2").replace(
        '"mpi", "gini", "redundancy"', '"mpi", "hoyer"'))
    out = tmp_path / "rep"
    res = CliRunner().invoke(app, [
        "survey", "--target", "bass", "--candidates", "2", "--config", str(cfg), "--root",
        str(demo_root), "--storage", f"sqlite:///{tmp_path}/s.db", "--out", str(out),
        "--bootstrap", "50", "--no-plots", "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "survey survey-bass: 4 of 4 candidates scored" in res.output
    for name in rs.SURVEY_FILES:
        assert (out / name).is_file()
    table = pd.read_csv(out / "survey.csv")
    assert len(table) == 4 and {"mpi", "hoyer", "bins", "family"} <= set(table.columns)


def test_survey_refuses_bad_input_in_one_line(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["survey", "--target", "vocals", "--candidates", "0",
                              "--storage", f"sqlite:///{tmp_path}/s.db"])  # fmt: skip
    one_line_error(res, "--candidates")
    res = runner.invoke(app, ["survey", "--storage", f"sqlite:///{tmp_path}/none.db",
                              "--out", str(tmp_path / "r")])  # fmt: skip
    one_line_error(res, "no such file", "tfselect survey")
    assert not (tmp_path / "r").exists()  # nothing left behind
    (tmp_path / "f").write_text("x")
    res = runner.invoke(app, ["survey", "--target", "vocals", "--out", str(tmp_path / "f"),
                              "--storage", f"sqlite:///{tmp_path}/s.db"])  # fmt: skip
    one_line_error(res, "is a file")
