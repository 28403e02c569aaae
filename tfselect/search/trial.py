"""One candidate on the clip pool: the pool itself and the trial objective that races on it.

The pool (every non-test track by default, several clips per track) is drawn once per study
from the seed and is the same for every trial and every worker. A trial scores its
candidate clip by clip, in its own shuffled order, and reports each clip's objective value
to Optuna (``trial.report(value, step=clip_id)``); with the Wilcoxon pruner Optuna stops
the candidate as soon as it is significantly worse than the best so far on the clips both
saw. A completed candidate has seen every clip; its value is the mean over clips (the
quantity the Wilcoxon pruner compares), and so is every metric it stores (``aggregate`` =
"mean"; studies written before stored medians). References are never stopped early: the paired
statistics of ``best.csv`` compare against all their clips.

Cost: the objective's metrics are computed on every clip a candidate sees; every other
metric (sparsity, ridges, the other oracles, cost) only once a candidate has finished the
race, and only on a fixed subset of the pool (``metric_clips``), the same for every
candidate, so reports can still correlate them over the complete candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfselect.audio.clips import sample_clips
from tfselect.audio.dataset import tracks_for
from tfselect.audio.targets import TargetMap
from tfselect.errors import DatasetError, SpecError, TfselectError
from tfselect.metrics import ClipScorer
from tfselect.search import stale
from tfselect.search.config import ClipConfig
from tfselect.search.objectives import Objectives
from tfselect.search.space import SearchSpace
from tfselect.search.study import (
    AGGREGATE_ATTR,
    REFERENCES,
    confirm_key,
    duplicate_reference,
    earlier_result,
    reseed_sampler,
)
from tfselect.transforms import TransformSpec

# Imported inside the functions that need them, so that importing this module stays light:
# optuna.

# A clip scorer: ``scorer(clip, metrics) -> {metric: value}`` or None (silent target).
ClipScoreFn = Callable[[Any, Sequence[str]], Mapping[str, float] | None]
# Builds a clip scorer: ``factory(spec, target, metrics, device)`` (default: ClipScorer).
ScorerFactory = Callable[[Any, str, Sequence[str], str], ClipScoreFn]


def sample_pool(
    root: Path, clips: ClipConfig, seed: int, target: str, target_map: TargetMap | None = None
) -> list:
    """The study's clip pool: ``clips.n_clips`` clips of ``clips.seconds`` per track of
    ``clips.split``, sorted by (track, start); deterministic for ``seed``.

    Raises:
        TfselectError: no track in the split, or no clip with an audible ``target``.
    """

    subsets = ("train", "valid") if clips.split == "train+valid" else (clips.split,)
    pool: list = []
    for subset in subsets:
        if not tracks_for(root, subset, target_map=target_map):
            continue  # e.g. no validation track in a small corpus
        try:
            pool += sample_clips(
                root, subset=subset, n_clips=clips.n_clips, seconds=clips.seconds, seed=seed,
                target=target, skip_silent=clips.skip_silent, target_map=target_map,
            )  # fmt: skip
        except DatasetError as exc:
            if "audible" not in str(exc):  # a broken file or folder: the user must know
                raise
    if clips.max_tracks is not None:
        keep = sorted({c.track for c in pool})[: clips.max_tracks]
        pool = [c for c in pool if c.track in keep]
    if not pool:
        raise TfselectError(
            f"the clip pool is empty: no {clips.split} track under {root} has a clip with an "
            f"audible {target} (try another split or clips.skip_silent = false)"
        )
    return sorted(pool, key=lambda c: (c.track, c.start))


def split_confirmation(
    pool: Sequence, fraction: float, minimum: int, seed: int
) -> tuple[list, list]:
    """Split the pool by track into (race clips, confirmation clips).

    ``round(fraction * n_tracks)`` tracks (at least ``minimum``), drawn with ``seed``, are
    kept out of the race; both sides keep the pool's order. No split (every clip races) when
    ``fraction`` is 0 or the pool cannot give ``minimum`` tracks to each side.
    """
    tracks = sorted({c.track for c in pool})
    k = max(minimum, round(fraction * len(tracks))) if fraction > 0 else 0
    if k == 0 or len(tracks) - k < minimum:
        return list(pool), []
    order = np.random.default_rng([int(seed) & 0xFFFFFFFF, 3]).permutation(len(tracks))
    held = {tracks[int(i)] for i in order[:k]}
    return [c for c in pool if c.track not in held], [c for c in pool if c.track in held]


def pool_ids(pool: Sequence) -> tuple[str, ...]:
    """``track@start`` per clip: what the study stores to recognise its pool."""
    return tuple(f"{c.track}@{c.start}" for c in pool)


def metric_subset(n_pool: int, k: int, seed: int) -> frozenset[int]:
    """The ``k`` clip ids on which every metric is computed (a seeded draw of the pool)."""
    order = np.random.default_rng([int(seed) & 0xFFFFFFFF, 1]).permutation(n_pool)
    return frozenset(int(i) for i in order[:k])


def metric_order(n_pool: int, seed: int) -> list[int]:
    """The pool's clip ids in the seeded order that ``metric_subset`` takes its first k of."""
    order = np.random.default_rng([int(seed) & 0xFFFFFFFF, 1]).permutation(n_pool)
    return [int(i) for i in order]


def trial_order(n_pool: int, seed: int, number: int) -> list[int]:
    """Clip ids in the order trial ``number`` scores them (its own seeded shuffle)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 2, int(number)])
    return [int(i) for i in rng.permutation(n_pool)]


def _default_factory(spec, target: str, metrics: Sequence[str], device: str) -> ClipScoreFn:
    return ClipScorer(spec, target, list(metrics), device=device)


class TrialObjective:
    """Optuna objective: propose a candidate, race it over the pool, store its scores.

    Args:
        space: the search space.
        objectives: parsed objectives (value(s) returned to Optuna).
        target: source name.
        clips: the clip pool (``sample_pool``); clip id = index in it.
        metrics: every metric name a trial stores (objective metrics included).
        device: torch device.
        scorer: a ``ScorerFactory`` (default ``tfselect.metrics.ClipScorer``).
        race: stop a candidate when the study's pruner says so (single objective only).
        seed: the study seed (clip orders, metric subset).
        metric_clips: size of the fixed subset of clips for the non-objective metrics.
        sllen_max: slice-length cap of proposals (the space's; references are exempt).
    """

    def __init__(
        self,
        space: SearchSpace,
        objectives: Objectives,
        target: str,
        clips: Sequence[Any],
        metrics: Sequence[str],
        device: str = "cpu",
        scorer: ScorerFactory | None = None,
        *,
        race: bool = True,
        seed: int = 0,
        metric_clips: int = 4,
        screen: int = 0,
        screen_by: str = "hoyer",
        screen_clips: int = 2,
    ) -> None:
        self.space = space
        self.objectives = objectives
        self.target = target
        self.clips = clips
        self.metrics = list(metrics)
        self.device = device
        self.factory = scorer or _default_factory
        self.race = race and len(objectives) == 1
        self.seed = seed
        self.metric_ids = metric_subset(len(clips), metric_clips, seed)
        self.interrupt = None  # a run.CtrlC: the search is asked to stop (any --jobs)
        self.screen, self.screen_by = screen, screen_by
        # The clips a proposal is screened on: the first of the fixed metric subset (its
        # draw order), then any others, so every proposal sees the same ones.
        first = [c for c in metric_order(len(clips), seed) if c in self.metric_ids]
        self.screen_ids = (first + [c for c in range(len(clips)) if c not in first])[
            :screen_clips
        ]

    def __call__(self, trial) -> float | list[float]:
        import optuna

        if self.interrupt is not None and self.interrupt.requested:
            # Ctrl-C came between two trials: end this one at once, as interrupted.
            _mark_interrupted(trial)
            raise KeyboardInterrupt
        stale.tag(trial)  # so a worker on this host can fail it if this process dies
        reseed_sampler(trial.study.sampler, self.seed, trial.number)  # reproducible proposals
        reference = trial.user_attrs.get("reference")
        try:
            if reference in REFERENCES:
                first = duplicate_reference(trial)
                if first is not None:  # queued twice by workers that started together
                    trial.set_user_attr("reused_from", first.number)
                    return self._prune(trial, f"a second copy of reference trial {first.number}")

                if trial.user_attrs.get("reference_params"):
                    # Suggest the enqueued parameters, so samplers see them as params.
                    self.space.propose(trial)
                spec = REFERENCES[reference]
            else:
                spec = self.space.propose(trial)  # feasible, or SpecError
        except SpecError as exc:
            return self._prune(trial, _one_line(exc))
        text = str(spec)
        trial.set_user_attr("spec", text)
        earlier = earlier_result(trial.study, text, tuple(self.metrics))
        if earlier is not None and earlier.number != trial.number:
            return self._repeat(trial, earlier)
        if self.screen >= 2 and reference is None:
            winner = self._screen(trial, spec)
            if winner is not None:
                return self._prune(trial, f"screened out by {self.screen_by}: "
                                   f"trial {winner} was more promising")  # fmt: skip
        return self._evaluate(trial, spec, optuna, racing=self.race and reference is None)

    def confirm(
        self, study, clips: Sequence, specs: Sequence[TransformSpec]
    ) -> list[TransformSpec]:
        """Score ``specs`` on the confirmation ``clips`` (clip id = index) and store each
        one's per-clip primary objective value in ``study`` (:func:`study.confirm_key`).

        Specs already stored are skipped, so an interrupted confirmation resumes; the same
        spec scored by two workers stores the same values. Returns the specs scored now.
        """

        done = study.user_attrs
        guard = self.interrupt if self.interrupt is not None else _Nothing()
        scored = []
        for spec in specs:
            if done.get(confirm_key(spec)) is not None:
                continue
            with guard:
                score_clip = self.factory(spec, self.target, self.objectives.metrics, self.device)
            values: dict[str, float | None] = {}
            for cid, clip in enumerate(clips):
                with guard:
                    row = score_clip(clip, self.objectives.metrics)
                if row is not None:
                    v = self.objectives.primary.value(row)
                    values[str(cid)] = v if math.isfinite(v) else None
            study.set_user_attr(confirm_key(spec), values)
            scored.append(spec)
        return scored

    # ------------------------------------------------------------------ screening
    def _screen_score(self, spec) -> float:
        """``screen_by`` on the screening clips (mean; -inf when undefined), signed so
        that larger is more promising."""
        from tfselect.metrics import DIRECTIONS

        guard = self.interrupt if self.interrupt is not None else _Nothing()
        with guard:
            score_clip = self.factory(spec, self.target, [self.screen_by], self.device)
            rows = [score_clip(self.clips[c], [self.screen_by]) for c in self.screen_ids]
        value = _mean([r[self.screen_by] for r in rows if r and self.screen_by in r])
        sign = 1.0 if DIRECTIONS.get(self.screen_by, "maximize") == "maximize" else -1.0
        return sign * value if math.isfinite(value) else -math.inf

    def _screen(self, trial, spec) -> int | None:
        """Draw ``screen - 1`` more proposals (trials of their own), screen all, keep the
        most promising. Returns None when ``trial``'s own candidate wins (it races as
        usual); else the number of the winner's trial, which has been raced and told here.
        The losers are told PRUNED ("screened out") with their screening score."""
        import optuna
        from optuna.trial import TrialState

        study = trial.study
        entries = [(trial, spec)]
        for _ in range(self.screen - 1):
            other = study.ask()
            stale.tag(other)
            try:
                s = self.space.propose(other)
            except SpecError as exc:
                other.set_user_attr("fail_reason", _one_line(exc))
                study.tell(other, state=TrialState.PRUNED)
                continue
            other.set_user_attr("spec", str(s))
            if earlier_result(study, str(s), tuple(self.metrics)) is not None:
                other.set_user_attr("fail_reason", "screened out: a repeat of an earlier trial")
                study.tell(other, state=TrialState.PRUNED)
                continue
            entries.append((other, s))
        scores = [self._screen_score(s) for _, s in entries]
        best = int(np.argmax(scores))
        for (t, _), v in zip(entries, scores, strict=True):
            t.set_user_attr("screen_score", v if math.isfinite(v) else None)
        for i, (t, _) in enumerate(entries):
            if i != best and t is not trial:
                t.set_user_attr("fail_reason", f"screened out by {self.screen_by}")
                study.tell(t, state=TrialState.PRUNED)
        if best == 0:
            return None
        winner, wspec = entries[best]
        try:
            value = self._evaluate(winner, wspec, optuna, racing=self.race)
        except optuna.TrialPruned:
            study.tell(winner, state=TrialState.PRUNED)
        except BaseException:
            study.tell(winner, state=TrialState.FAIL)
            raise
        else:
            study.tell(winner, value)
        return winner.number

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, trial, spec, optuna, racing: bool):
        order = trial_order(len(self.clips), self.seed, trial.number)
        single = len(self.objectives) == 1
        rows: dict[int, Mapping[str, float]] = {}
        values: dict[int, float] = {}
        raced = False
        guard = self.interrupt if self.interrupt is not None else _Nothing()
        try:
            with guard:
                score_clip = self.factory(spec, self.target, self.metrics, self.device)
            for cid in order:
                with guard:  # Ctrl-C cuts the scoring, never a storage write below
                    row = score_clip(self.clips[cid], self.objectives.metrics)
                if row is None:  # silent target (the pool normally has none)
                    continue
                rows[cid] = dict(row)
                values[cid] = self.objectives.primary.value(row)
                if single and math.isfinite(values[cid]):
                    trial.report(values[cid], step=cid)
                    if racing and trial.should_prune():
                        raced = True
                        break
            others = [m for m in self.metrics if m not in self.objectives.metrics]
            if not raced and others:
                # The other metrics only for candidates that finish the race, on the fixed
                # subset: a raced-out candidate costs no more than its objective.
                for cid in sorted(self.metric_ids & set(rows)):
                    with guard:
                        rows[cid].update(score_clip(self.clips[cid], others) or {})
        except SpecError as exc:
            return self._prune(trial, _one_line(exc))
        except KeyboardInterrupt:
            _mark_interrupted(trial)
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {_one_line(exc)}")
            raise
        self._store(trial, rows, values, order)
        if raced:
            return self._prune(
                trial,
                f"raced out after {len(values)} of {len(self.clips)} clips: significantly "
                "worse than the best so far (Wilcoxon)",
            )
        objective = [
            _mean([o.value(r) for r in rows.values()]) for o in self.objectives.items
        ]
        if not all(math.isfinite(v) for v in objective):
            return self._prune(
                trial, "objective undefined (NaN/inf): every clip skipped (silent target?)"
            )
        return objective[0] if single else objective

    def _store(self, trial, rows, values, order) -> None:
        seen = [cid for cid in order if cid in rows]
        for name in self.metrics:
            # The mean over clips, as the value: one aggregate per quantity in every report.
            v = _mean([r[name] for r in rows.values() if name in r])
            # JSON has no NaN/inf portable across storages: store None for undefined values.
            trial.set_user_attr(name, v if math.isfinite(v) else None)
        trial.set_user_attr(AGGREGATE_ATTR, "mean")  # studies before it stored medians
        trial.set_user_attr("n_clips", len(seen))
        trial.set_user_attr("n_metric_clips", sum(c in self.metric_ids for c in seen))
        trial.set_user_attr("clips", seen)
        trial.set_user_attr(
            "clip_values", {str(c): (v if math.isfinite(v) else None) for c, v in values.items()}
        )

    def _repeat(self, trial, earlier):
        """Answer a repeated candidate from the earlier trial (no scoring, same state)."""
        import optuna
        from optuna.trial import TrialState

        for name, value in earlier.user_attrs.items():
            if name not in ("reference", "reference_params", *stale.ATTRS):
                trial.set_user_attr(name, value)
        trial.set_user_attr("reused_from", earlier.number)
        if len(self.objectives) == 1:
            for step, value in earlier.intermediate_values.items():
                trial.report(value, step=step)
        if earlier.state == TrialState.PRUNED:
            raise optuna.TrialPruned(earlier.user_attrs.get("fail_reason", "pruned"))
        values = list(earlier.values)
        return values[0] if len(values) == 1 else values

    @staticmethod
    def _prune(trial, reason: str):
        import optuna

        trial.set_user_attr("fail_reason", reason)
        raise optuna.TrialPruned(reason)


def _mark_interrupted(trial) -> None:
    """Record why ``trial`` stops, unless another worker has finished it already.

    SQLite cannot lock rows, so two workers starting together may pop the same queued
    reference trial (run.py); with ``--jobs N`` both stop at the same Ctrl-C.
    """
    from optuna.exceptions import UpdateFinishedTrialError

    try:
        trial.set_user_attr("fail_reason", "interrupted")
    except UpdateFinishedTrialError:
        pass


class _Nothing:
    """A do-nothing context manager (no Ctrl-C guard installed)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def _finite(values: Sequence[float]) -> np.ndarray:
    a = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return a[np.isfinite(a)]


def _mean(values: Sequence[float]) -> float:
    a = _finite(values)
    return float(a.mean()) if a.size else math.nan


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
