"""The best trial, asked after every trial by the search's progress bar: tfselect's
``best_trial`` against Optuna's own ``Study.best_trial`` on the same study.

``best_trial`` does more than Optuna's (it skips repeats and breaks ties to the earliest
trial), so the ratio says what that costs. Studies of 2000 single-objective trials and 2000
two-objective trials (where both compute the Pareto front), in memory and in SQLite. Prints
median milliseconds of 7 calls and the ratio ours / Optuna's. An in-memory Optuna study
keeps its single-objective best trial cached, so that peer costs next to nothing there.

    .venv/bin/python benchmarks/ranking.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import optuna
from _timing import median_time

from tfselect.search.ranking import best_trial

N_TRIALS = 2000


def study(directions: list[str], storage: str | None):
    st = optuna.create_study(directions=directions, storage=storage)
    values = np.random.default_rng(0).normal(size=(N_TRIALS, len(directions)))
    st.add_trials([
        optuna.trial.create_trial(values=[float(v) for v in row], user_attrs={"spec": str(i)})
        for i, row in enumerate(values)
    ])
    return st


def main() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        for label, url in (("memory", None), ("sqlite", f"sqlite:///{Path(tmp) / 'b.db'}")):
            for directions in (["maximize"], ["maximize", "minimize"]):
                st = study(directions, url)
                # Optuna's Study.best_trial is single-objective only; best_trials is its
                # answer for several objectives.
                peer = (lambda s=st: s.best_trial) if len(directions) == 1 else (
                    lambda s=st: s.best_trials)
                ours = median_time(lambda s=st: best_trial(s), 7)
                theirs = median_time(peer, 7)
                print(f"{label:6s} {len(directions)} objective(s), {N_TRIALS} trials: "
                      f"best_trial {ours * 1e3:.1f} ms, optuna {theirs * 1e3:.1f} ms, "
                      f"ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
