"""search --screen K: K proposals screened by a cheap metric on a few clips, the best raced."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from tfselect.errors import TfselectError
from tfselect.search.config import load_config
from tfselect.search.objectives import parse_objectives
from tfselect.search.space import SearchSpace
from tfselect.search.trial import TrialObjective

LEVELS = {f"stft:n_fft={n},hop={n // 4}": float(i) for i, n in enumerate((1024, 2048, 3072, 4096))}


class Scorer:
    """hoyer = the spec's level (what the screen sees), mpi = 10 - level (what racing sees);
    records every (spec, clip id, metrics) call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, tuple[str, ...]]] = []
        self.clips = [SimpleNamespace(id=i) for i in range(8)]

    def __call__(self, spec, target, metrics, device):
        text = str(spec)

        def score(clip, wanted):
            self.calls.append((text, clip.id, tuple(wanted)))
            v = LEVELS[text]
            return {m: {"hoyer": v, "mpi": 10.0 - v}.get(m, 0.0) for m in wanted}

        return score


def _run(screen: int, seed: int, rounds: int = 1):
    sc = Scorer()
    space = SearchSpace(scales=(), stft_n_fft=(1024, 4096), stft_n_fft_step=1024,
                        stft_overlap=(4,), stft_window=("hann",))  # fmt: skip
    obj = TrialObjective(space, parse_objectives("mpi"), "vocals", sc.clips, ["mpi", "hoyer"],
                         scorer=sc, race=False, metric_clips=3, screen=screen,
                         screen_by="hoyer", screen_clips=2)  # fmt: skip
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed))  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(obj, n_trials=rounds)
    return study, sc, obj


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_screen_races_only_the_most_promising_proposal(seed):
    study, sc, obj = _run(screen=4, seed=seed)
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 4  # the sampled trial and 3 more proposals
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(done) == 1
    winner = done[0]
    # independent: the largest hoyer among the proposals' specs
    assert LEVELS[winner.user_attrs["spec"]] == max(LEVELS[t.user_attrs["spec"]] for t in trials)
    assert winner.user_attrs["screen_score"] == LEVELS[winner.user_attrs["spec"]]
    for t in trials:
        if t is not winner:
            assert t.state == TrialState.PRUNED
            assert t.user_attrs["fail_reason"].startswith("screened out")
    # the screen costs 2 clips of hoyer per proposal, on the same clips for every proposal
    # (the winner then gets hoyer on the 3 metric clips as every finished candidate does)
    hoyer_calls = [c for c in sc.calls if c[2] == ("hoyer",)]
    assert len(hoyer_calls) == 2 * 4 + 3
    screen_calls = [c for c in hoyer_calls if c[0] != winner.user_attrs["spec"]]
    assert {c[1] for c in screen_calls} <= set(obj.screen_ids) and len(obj.screen_ids) == 2
    # only the winner was scored on every clip
    assert {c[0] for c in sc.calls if c[2] == ("mpi",)} == {winner.user_attrs["spec"]}
    assert winner.value == pytest.approx(10.0 - LEVELS[winner.user_attrs["spec"]])


def test_without_screen_every_trial_races():
    study, sc, obj = _run(screen=0, seed=0, rounds=3)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # hoyer only on the metric clips of finished candidates, 3 per trial: no screening
    scored = [t for t in study.trials if "reused_from" not in t.user_attrs]  # repeats: free
    assert sum(c[2] == ("hoyer",) for c in sc.calls) == 3 * len(scored)
    assert all("screen_score" not in t.user_attrs for t in study.trials)


@pytest.mark.parametrize("override, words", [
    ({"screen": 1}, "search.screen"), ({"screen": -2}, "search.screen"),
    ({"screen": 3, "screen_by": "nope"}, "screen_by"), ({"screen_clips": 0}, "screen_clips"),
])  # fmt: skip
def test_bad_screen_settings_are_refused(override, words):
    with pytest.raises(TfselectError, match=words):
        load_config(None).override(**override)


def test_screen_ids_are_the_metric_subsets_first_clips():
    _, _, obj = _run(screen=2, seed=0)
    assert set(obj.screen_ids) <= obj.metric_ids
    assert np.unique(obj.screen_ids).size == 2
