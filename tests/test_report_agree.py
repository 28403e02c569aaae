"""One number per quantity: every report file and plot shows the same aggregate of a metric.

A search with a scorer of known per-clip values (skewed, so the mean over clips and the
median differ) feeds a whole report; the test reads trials.csv, best.csv, pareto.csv,
correlations.csv and the points the plots drew, and checks them against means computed here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import SMALL_SPACE
from tfselect.report.columns import trial_metrics
from tfselect.search.study import REFERENCES

STUDY = SMALL_SPACE + """[clips]
n_clips = 3
seconds = 1.0
metric_clips = 4
confirm = 0.0
[search]
metrics = ["mpi", "irm1", "gini", "redundancy"]
sampler = "random"
pruner = "none"
"""


class Skewed:
    """A ScorerFactory whose per-clip values are known: a level per spec plus a clip effect
    drawn from an exponential (skewed: mean != median), remembered per (spec, clip)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str, int], dict[str, float]] = {}

    def __call__(self, spec, target, metrics, device):
        text = str(spec)
        level = (sum(map(ord, text)) % 97) / 10.0

        def score_clip(clip, wanted):
            rng = np.random.default_rng([sum(map(ord, clip.track)), clip.start])
            effect = rng.exponential(3.0, 3)
            row = {"mpi": level + effect[0], "irm1": level + 1.0 + effect[1],
                   "gini": 0.1 * level + effect[2], "redundancy": 1.0 + level / 10.0}
            mine = self.seen.setdefault((text, clip.track, clip.start), {})
            mine.update({m: row[m] for m in wanted})
            return {m: row[m] for m in wanted}

        return score_clip

    def means(self, spec: str, metric: str) -> tuple[float, float, int]:
        """(mean, median, count) over the clips where ``metric`` was scored for ``spec``."""
        v = [r[metric] for (s, _, _), r in self.seen.items() if s == spec and metric in r]
        return float(np.mean(v)), float(np.median(v)), len(v)


@pytest.fixture(scope="module")
def report(tmp_path_factory, demo_root):
    """A 5-candidate search (plus both references) with the skewed scorer, its report, and
    the points every scatter of the plots drew."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.axes import Axes

    from tfselect.report.build import make_report
    from tfselect.search.config import load_config
    from tfselect.search.run import run_search

    d = tmp_path_factory.mktemp("agree")
    (d / "s.toml").write_text(STUDY)
    url = f"sqlite:///{d}/s.db"
    scorer = Skewed()
    run_search("vocals", storage=url, study="v", config=load_config(d / "s.toml"),
               root=demo_root, trials=5, progress=False, scorer=scorer)  # fmt: skip
    drawn: list[tuple[np.ndarray, np.ndarray]] = []
    original = Axes.scatter

    def scatter(self, x, y, *args, **kwargs):
        drawn.append((np.asarray(x, float), np.asarray(y, float)))
        return original(self, x, y, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(Axes, "scatter", scatter)
    try:
        make_report(url, out=d / "rep", root=demo_root, n_boot=0)
    finally:
        mp.undo()
    return scorer, d / "rep", drawn


def test_trials_csv_holds_means_over_clips(report):
    scorer, out, _ = report
    t = pd.read_csv(out / "trials.csv")
    done = t[t["state"] == "COMPLETE"]
    assert len(done) >= 5
    assert {"mpi_mean", "irm1_mean", "gini_mean", "redundancy_mean", "n_clips",
            "n_metric_clips"} <= set(t.columns)  # fmt: skip
    assert not any(c in t.columns for c in ("mpi", "mpi_median", "irm1", "gini"))
    differ = 0
    for r in done.itertuples():
        mean, median, n = scorer.means(r.spec, "mpi")
        assert r.n_clips == n and r.mpi_mean == pytest.approx(mean)
        assert r.value == pytest.approx(mean)  # the objective's value is the same number
        differ += not math.isclose(mean, median, abs_tol=1e-6)
        mean, _, n = scorer.means(r.spec, "gini")  # the fixed metric subset only
        assert r.n_metric_clips == n == 4 and r.gini_mean == pytest.approx(mean)
    assert differ >= 3  # the data can tell a mean from a median


def test_every_file_and_plot_agrees_with_trials_csv(report):
    _, out, drawn = report
    t = pd.read_csv(out / "trials.csv").set_index(["study", "number"])
    b = pd.read_csv(out / "best.csv")
    # best.csv: the same numbers as the trials it names, and the counts behind them.
    assert set(REFERENCES) <= set(b["candidate"])
    for r in b.itertuples():
        trial = t.loc[(r.study, r.number)]
        for col in ("value", "mpi_mean", "irm1_mean", "gini_mean", "redundancy_mean",
                    "n_clips", "n_metric_clips"):
            assert getattr(r, col) == pytest.approx(trial[col]), col
    # pareto.csv: quality and cost are the trials' values of the columns it names.
    p = pd.read_csv(out / "pareto.csv")
    assert set(p["quality_metric"]) == {"mpi_mean", "irm1_mean"}
    assert set(p["cost_metric"]) == {"redundancy_mean"}
    for r in p.itertuples():
        trial = t.loc[(r.study, r.number)]
        assert r.quality == pytest.approx(trial[r.quality_metric])
        assert r.cost == pytest.approx(trial[r.cost_metric])
    c = pd.read_csv(out / "correlations.csv")
    assert set(c["oracle"]) == {"mpi_mean", "irm1_mean"}
    assert {"bins", "redundancy_mean", "gini_mean"} <= set(c["predictor"])
    # The plots: every point drawn is a trials.csv value of an oracle column (y).
    oracle_values = np.concatenate([t["mpi_mean"].dropna(), t["irm1_mean"].dropna()])
    assert drawn
    for _, y in drawn:
        assert all(np.isclose(oracle_values, v).any() for v in y)


def test_older_trials_with_medians_keep_them_apart():
    """A trial stored before the means (no aggregate attribute) fills <metric>_median, and
    its objective's mean comes from its value (the mean over clips)."""
    old = {"mpi": 9.0, "gini": 0.4, "n_clips": 6}
    assert trial_metrics(old, "mpi", 9.5) == {"mpi_median": 9.0, "gini_median": 0.4,
                                              "mpi_mean": 9.5}  # fmt: skip
    # A weighted objective's value is not one metric's mean.
    assert trial_metrics(old, "mpi+0.5*gini", 9.2) == {"mpi_median": 9.0, "gini_median": 0.4}
    new = {"mpi": 9.5, "gini": None, "aggregate": "mean"}
    got = trial_metrics(new, "max:mpi", 9.5)
    assert got["mpi_mean"] == 9.5 and math.isnan(got["gini_mean"]) and len(got) == 2
