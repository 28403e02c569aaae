"""A survey of the search space: a space-filling design scored on every clip, no racing.

A search spends its clips on promising candidates, so its cheap metrics (sparsity, ridges)
exist only for the dozen candidates that finish the race: too few to tell whether a metric
predicts the oracles. A survey scores a fixed design instead:

- the design: ``candidates`` points of a scrambled Sobol sequence in the unit cube, each
  turned into a candidate by :meth:`SearchSpace.propose` (one cube axis per parameter name,
  so the scale, n_fft, fmin, bins... spread evenly over the same space a search samples),
  deduplicated, after the two reference transforms;
- the study: an Optuna study of its own (default name ``survey-<target>``), tagged like a
  search's with the design size in the clip tags (a search cannot write into it, nor a
  survey of another size); every design point is queued as a trial when the study is made;
- a trial: every metric on every clip of the pool (no racing, no metric subset), with the
  per-clip values of every metric kept (user attr ``clip_metrics``: metric -> {clip id:
  value}), so reports can resample tracks as well as candidates.

Resumable and parallel like a search: workers (processes, or ``jobs`` threads) pop the queued
points until none is left; a rerun first fails the trials of dead workers on this host and
queues again every point that has no finished or running trial.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tfselect.audio.targets import check_target
from tfselect.errors import Interrupted, SpecError, TfselectError
from tfselect.search import stale
from tfselect.search.config import StudyConfig
from tfselect.search.objectives import parse_objectives
from tfselect.search.space import SearchSpace
from tfselect.search.study import REFERENCES, StudyTags, earlier_result, open_study
from tfselect.search.trial import TrialObjective, pool_ids, sample_pool

log = logging.getLogger(__name__)

DEFAULT_CANDIDATES = 64
DESIGN = "design"  # user attr: index of the design point (references: none)
DESIGN_SPEC = "design_spec"  # user attr: the spec the point stands for
CLIP_METRICS = "clip_metrics"  # user attr: {metric: {clip id: value}}
# Cube axes by parameter name; the branches of the space share axes (an STFT never has
# fmin, a sliCQT never n_fft), so 7 axes cover every parameter ``propose`` may ask for.
AXES = {
    "scale": 0, "stft_n_fft": 1, "fmin": 1, "stft_overlap": 2, "bins_q": 2, "stft_window": 3,
    "gamma": 3, "fmax": 4, "phase": 5, "form": 6,
}  # fmt: skip


def default_survey_name(target: str) -> str:
    """Study name of a survey when none is given."""
    return f"survey-{target}"


class _UnitTrial:
    """A stand-in for an Optuna trial that answers ``suggest_*`` from a point of [0, 1)^d:
    the parameter's axis (``AXES``) maps uniformly onto its range or its choices."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = u
        self.params: dict[str, Any] = {}

    def _axis(self, name: str) -> float:
        return float(self.u[AXES.get(name, len(self.u) - 1)])

    def suggest_categorical(self, name: str, choices: Sequence) -> Any:
        value = choices[min(int(self._axis(name) * len(choices)), len(choices) - 1)]
        self.params[name] = value
        return value

    def suggest_int(self, name: str, low: int, high: int, step: int = 1) -> int:
        n = (high - low) // step + 1
        value = low + min(int(self._axis(name) * n), n - 1) * step
        self.params[name] = value
        return value

    def suggest_float(self, name: str, low: float, high: float, step: float | None = None
                      ) -> float:
        value = low + self._axis(name) * (high - low)
        if step:  # on Optuna's grid, as a sampled value would be
            value = low + round((value - low) / step) * step
        value = min(max(value, low), high)
        self.params[name] = value
        return value


def design_specs(space: SearchSpace, n: int, seed: int = 0) -> list[str]:
    """``n`` space-filling candidates of ``space`` (scrambled Sobol, seeded), as canonical
    spec strings, without repeats and without the references (always surveyed anyway).

    Fewer than ``n`` come back when several points give the same candidate (a small space).
    """
    from scipy.stats import qmc

    space.validate()
    sobol = qmc.Sobol(d=max(AXES.values()) + 1, scramble=True, seed=seed)
    with warnings.catch_warnings():  # a non-power of 2 loses balance, not validity
        warnings.simplefilter("ignore", UserWarning)
        points = sobol.random(n)
    out: dict[str, None] = {}
    refs = {str(s) for s in REFERENCES.values()}
    for u in points:
        try:
            text = str(space.propose(_UnitTrial(u)))
        except SpecError:  # validate() rules this out; skip rather than stop a survey
            continue
        if text not in refs:
            out.setdefault(text)
    return list(out)


class SurveyObjective(TrialObjective):
    """A trial of a survey: the queued spec, every metric on every clip, per-clip values kept.

    Construct it with ``race=False`` and ``metric_clips=len(clips)``.
    """

    def __call__(self, trial) -> float | list[float]:
        import optuna

        from tfselect.search.trial import _mark_interrupted
        from tfselect.transforms import TransformSpec

        if self.interrupt is not None and self.interrupt.requested:
            _mark_interrupted(trial)
            raise KeyboardInterrupt
        stale.tag(trial)
        attrs = trial.user_attrs
        text = attrs.get(DESIGN_SPEC)  # a design point's spec is stored as text
        spec = REFERENCES.get(attrs.get("reference", ""))
        if text is None and spec is None:  # a worker found the queue empty: nothing to score
            return self._prune(trial, "the survey's design is complete: nothing left to score")
        if text is not None:
            try:
                spec = TransformSpec.parse(text)
            except SpecError as exc:
                return self._prune(trial, str(exc).splitlines()[0])
        trial.set_user_attr("spec", str(spec))
        earlier = earlier_result(trial.study, str(spec), tuple(self.metrics))
        if earlier is not None and earlier.number != trial.number:
            return self._repeat(trial, earlier)
        return self._evaluate(trial, spec, optuna, racing=False)

    def _store(self, trial, rows, values, order) -> None:
        super()._store(trial, rows, values, order)
        per_metric = {
            name: {str(c): _json_float(r.get(name)) for c, r in sorted(rows.items())}
            for name in self.metrics
        }
        trial.set_user_attr(CLIP_METRICS, per_metric)


def _json_float(v: float | None) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


@dataclass
class SurveyResult:
    """What one ``run_survey`` call did and what the survey holds after it.

    Attributes:
        study: study name.
        points: design points plus references (what a complete survey holds).
        ran: trials this process scored.
        complete: points with a complete trial after the run.
        missing: points still without one (pruned, failed or not yet scored).
    """

    study: str
    points: int
    ran: int = 0
    complete: int = 0
    missing: int = 0


def _point_key(attrs: Mapping[str, Any]) -> str | None:
    """Which design point a trial stands for: ``ref:NAME`` or ``design:I`` (None: neither)."""
    if attrs.get("reference") in REFERENCES:
        return f"ref:{attrs['reference']}"
    if DESIGN in attrs:
        return f"design:{attrs[DESIGN]}"
    return None


def _queue_missing(study, specs: Sequence[str]) -> int:
    """Queue every point (references, then the design) that has no waiting, running or
    finished trial; returns how many were queued."""
    from optuna.trial import TrialState

    live = (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)
    have = {_point_key(t.user_attrs) for t in study.get_trials(deepcopy=False, states=live)}
    queued = 0
    for name in REFERENCES:
        if f"ref:{name}" not in have:
            study.enqueue_trial({}, user_attrs={"reference": name})
            queued += 1
    for i, text in enumerate(specs):
        if f"design:{i}" not in have:
            study.enqueue_trial({}, user_attrs={DESIGN: i, DESIGN_SPEC: text})
            queued += 1
    return queued


def _count(study, n_points: int, result: SurveyResult) -> SurveyResult:
    from optuna.trial import TrialState

    done = {_point_key(t.user_attrs)
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}  # fmt: skip
    done.discard(None)
    result.complete = len(done)
    result.missing = n_points - len(done)
    return result


class _StopWhenDrained:
    """Optuna callback: stop once no queued point is left (other workers may hold some)."""

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        if not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            study.stop()


def run_survey(
    target: str,
    *,
    storage: str,
    study: str | None = None,
    config: StudyConfig | None = None,
    root: Path | None = None,
    candidates: int = DEFAULT_CANDIDATES,
    progress: bool = True,
    scorer=None,
) -> SurveyResult:
    """Score a space-filling design of ``config.space`` for ``target`` on the whole pool.

    Args:
        target: vocals, drums, bass, other (or a name of the config's target map).
        storage: Optuna storage URL.
        study: study name (default ``survey-<target>``).
        config: study configuration: space, clips, seed (of the clips and of the design),
            metrics, device, jobs; objective, sampler and pruner are not used (no racing).
        root: dataset root (default: ``$MUSDB_PATH``, else the demo corpus).
        candidates: design points drawn (the references come on top).
        progress: progress bar on stderr.
        scorer: replacement for ``ClipScorer`` (tests).

    Raises:
        TfselectError: bad target/config/storage, a study made for something else (another
            target, design size, clips or root), an empty clip pool. Nothing is written then.
        Interrupted: Ctrl-C; finished points are kept, a rerun continues.
    """
    import optuna

    from tfselect.audio.dataset import resolve_root
    from tfselect.search.run import CtrlC, _precheck, _Progress, _quiet_interrupts, trial_metrics
    from tfselect.search.storage import open_storage

    cfg = config or StudyConfig()
    if not 1 <= candidates <= 100_000:
        raise TfselectError(f"--candidates must be in [1, 100000], got {candidates}")
    cfg.space.validate()
    objectives = parse_objectives("mpi")  # the value Optuna sees; every metric is stored
    metrics = trial_metrics(cfg.search.metrics, objectives)
    name = study or default_survey_name(target)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_interrupts(optuna.logging.get_logger("optuna"))
    store = open_storage(storage)
    data_root = resolve_root(root)
    check_target(data_root, target, cfg.targets)
    # No racing, so no confirmation split: its keys stay out of the tag, and a survey resumes
    # whatever the config says of them (surveys made before the split existed included).
    clips_tag = cfg.clips.pool_dict()
    clips_tag |= {"seed": cfg.search.seed, "survey": candidates}
    if cfg.targets is not None:
        clips_tag["targets"] = cfg.targets.as_dict()
    tags = StudyTags(
        target=target, objective=objectives.text, directions=tuple(objectives.directions),
        clips=clips_tag, metrics=metrics, root=str(Path(data_root).resolve()),
        choices=cfg.space.choices(),
    )  # fmt: skip
    _precheck(store, name, tags)
    specs = design_specs(cfg.space, candidates, cfg.search.seed)
    pool = sample_pool(data_root, cfg.clips, cfg.search.seed, target, cfg.targets)
    tags = replace(tags, pool=pool_ids(pool))
    sampler = optuna.samplers.RandomSampler(seed=cfg.search.seed)
    # Making the study queues the references; then every design point without a trial.
    st = open_study(store, name, tags, sampler, optuna.pruners.NopPruner(), None)
    stale.fail_stale(st)
    _queue_missing(st, specs)
    n_points = len(specs) + len(REFERENCES)
    objective = SurveyObjective(
        cfg.space, objectives, target, pool, metrics, cfg.search.device, scorer,
        race=False, seed=cfg.search.seed, metric_clips=len(pool),
    )  # fmt: skip
    ctrl_c = CtrlC(st)
    if ctrl_c.install():
        objective.interrupt = ctrl_c
    if cfg.search.jobs > 1:
        import os

        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg.search.jobs))
    result = SurveyResult(name, n_points)
    waiting = _n_waiting(st)
    bar = _Progress(waiting, objectives, st, enabled=progress)
    bar.bar.set_description(f"survey {name}")
    counter = _Ran()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            while waiting and not ctrl_c.requested:
                try:
                    st.optimize(
                        objective, n_trials=waiting, n_jobs=cfg.search.jobs, catch=(Exception,),
                        callbacks=[counter, _StopWhenDrained(), ctrl_c.stop_study, bar],
                        gc_after_trial=True,
                    )  # fmt: skip
                except ValueError as exc:  # two workers popped the same point (run.py)
                    if not str(exc).startswith("Cannot tell a"):
                        raise
                waiting = _n_waiting(st)
    except KeyboardInterrupt:
        ctrl_c.requested = True
    finally:
        ctrl_c.restore()
        bar.close()
    result.ran = counter.ran
    _count(st, n_points, result)
    if ctrl_c.requested:
        raise Interrupted(
            f"interrupted after {result.ran} point(s) in this run; survey {name!r} holds "
            f"{result.complete} of {n_points}; rerun the same command to continue"
        )
    return result


def _n_waiting(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


class _Ran:
    """Optuna callback: trials this process scored (not the empty-queue ones)."""

    def __init__(self) -> None:
        self.ran = 0

    def __call__(self, study, trial) -> None:
        self.ran += _point_key(trial.user_attrs) is not None
