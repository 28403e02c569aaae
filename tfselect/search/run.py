"""Run a per-target search: the objective of a trial and the resumable, shareable loop.

One process: parse and check everything (objective, sampler, storage, study tags) before
reading audio; sample the clips once (deterministic for the seed) and reuse them in every
trial; score the two reference transforms once per study; then let Optuna run trials.

Semantics (DESIGN §6):
- ``trials=N`` runs N more trials in this process, so K workers with N each add exactly K·N
  and re-running after a crash continues the same study;
- ``until=N`` stops once the study holds N complete trials (all workers together);
- an invalid candidate (``SpecError``, slices above the cap, every clip skipped) is PRUNED
  with its reason in the trial's ``fail_reason`` user attr; any other error FAILs that trial
  only; the study goes on;
- Ctrl-C marks the running trial FAIL ("interrupted") and stops; completed trials stay.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.errors import Interrupted, SpecError, TfselectError
from tfselect.search import stale
from tfselect.search.config import StudyConfig
from tfselect.search.objectives import Objectives, parse_objectives
from tfselect.search.space import SearchSpace, check_slice_length
from tfselect.search.storage import open_storage
from tfselect.search.study import (
    StudyTags,
    baselines,
    make_sampler,
    open_study,
    set_baseline,
)

log = logging.getLogger(__name__)

# Reference transforms scored on the same clips as every trial (rows of best.csv).
REFERENCES: dict[str, str] = {
    "stft": "stft:n_fft=4096,hop=1024",
    "xumx-slicq": "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050",
}
# --until alone stops after this many trials in a row that did not complete.
GIVE_UP_AFTER = 50
# User attrs of a trial that are not metrics.
RESERVED_ATTRS = ("spec", "fail_reason", "reused_from", *stale.ATTRS)

Scorer = Callable[..., Mapping[str, float]]


def default_study_name(target: str) -> str:
    """Study name used when ``--study`` is not given: one study per target."""
    return target


def resolve_metrics(requested: Sequence[str] | str, objectives: Objectives) -> tuple[str, ...]:
    """Metric names each trial computes: the requested ones (metric or group names) plus
    the objectives' ones, without repeats."""
    from tfselect.metrics import GROUPS, METRICS

    if requested == "all":
        names: tuple[str, ...] = tuple(METRICS)
    else:
        unknown = [m for m in requested if m not in METRICS and m not in GROUPS]
        if unknown:
            raise TfselectError(
                f"unknown metric {unknown[0]!r} (known: {', '.join(METRICS)}; "
                f"groups: {', '.join(GROUPS)})"
            )
        # Group names (sparsity, ridges, oracles, cost) stand for their metrics.
        names = tuple(x for m in requested for x in (GROUPS[m] if m in GROUPS else (m,)))
    return tuple(dict.fromkeys((*objectives.metrics, *names)))


class TrialObjective:
    """Optuna objective: sample a spec, score it on the shared clips, store every metric.

    Args:
        space: the search space.
        objectives: parsed objectives (value(s) returned to Optuna).
        target: source name.
        clips: clips sampled once per process.
        metrics: metric names passed to ``score``.
        device: torch device.
        scorer: ``score``-compatible callable (default ``tfselect.metrics.score``).
    """

    def __init__(
        self,
        space: SearchSpace,
        objectives: Objectives,
        target: str,
        clips: Sequence[Any],
        metrics: Sequence[str],
        device: str = "cpu",
        scorer: Scorer | None = None,
    ) -> None:
        self.space = space
        self.objectives = objectives
        self.target = target
        self.clips = clips
        self.metrics = list(metrics)
        self.device = device
        self.scorer = scorer
        self.interrupt: CtrlC | None = None

    def evaluate(self, spec_text: str, cap: bool = True) -> tuple[str, dict[str, float]]:
        """Canonical spec and its metrics; raises SpecError for an invalid candidate.

        ``cap=False`` skips the slice-length cap (the reference transforms are scored
        whatever the space allows).
        """
        from tfselect.transforms import TransformSpec

        spec = TransformSpec.parse(spec_text)
        # Cheap checks (no filterbank is built) before the expensive scoring.
        check_slice_length(spec, SAMPLE_RATE, self.space.sllen_max if cap else 2**62)
        scorer = self.scorer
        if scorer is None:
            from tfselect.metrics import score as scorer
        result = scorer(spec, self.target, self.clips, metrics=self.metrics, device=self.device)
        return str(spec), {k: float(v) for k, v in result.items()}

    def __call__(self, trial) -> float | list[float]:
        import optuna

        if self.interrupt is not None and self.interrupt.requested:
            # Ctrl-C came between two trials: end this one at once, as interrupted.
            trial.set_user_attr("fail_reason", "interrupted")
            raise KeyboardInterrupt
        stale.tag(trial)  # so a worker on this host can fail it if this process dies
        spec_text = self.space.suggest(trial)
        trial.set_user_attr("spec", spec_text)
        earlier = self._earlier(trial, spec_text)
        if earlier is not None:
            # Scoring is deterministic on the shared clips: a repeated candidate (common for
            # the few STFT choices) copies its earlier result instead of recomputing it.
            for name, value in earlier.user_attrs.items():
                if name not in stale.ATTRS:
                    trial.set_user_attr(name, value)
            trial.set_user_attr("reused_from", earlier.number)
            values = list(earlier.values)
            return values[0] if len(values) == 1 else values
        try:
            with self.interrupt if self.interrupt is not None else contextlib.nullcontext():
                spec_text, result = self.evaluate(spec_text)
        except SpecError as exc:
            reason = _one_line(exc)
            trial.set_user_attr("fail_reason", reason)
            raise optuna.TrialPruned(reason) from None
        except KeyboardInterrupt:
            trial.set_user_attr("fail_reason", "interrupted")
            raise
        except Exception as exc:
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {_one_line(exc)}")
            raise
        trial.set_user_attr("spec", spec_text)
        for name, value in result.items():
            # JSON has no NaN/inf portable across storages: store None for undefined values.
            trial.set_user_attr(name, value if math.isfinite(value) else None)
        values = self.objectives.values(result)
        if not all(math.isfinite(v) for v in values):
            reason = (
                "objective undefined (NaN/inf): "
                f"{result.get('n_skipped', '?')} of the clips skipped (silent target?)"
            )
            trial.set_user_attr("fail_reason", reason)
            raise optuna.TrialPruned(reason)
        return values[0] if len(values) == 1 else values

    def _earlier(self, trial, spec_text: str):
        """A complete trial of the same study that scored ``spec_text`` with every metric."""
        from optuna.trial import TrialState

        for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            attrs = t.user_attrs
            if attrs.get("spec") == spec_text and all(m in attrs for m in self.metrics):
                return t
        return None


class CtrlC:
    """SIGINT (and SIGTERM, what ``timeout`` and schedulers send) handling that stops a
    search cleanly.

    Inside a trial's scoring (``with ctrl_c:``) Ctrl-C raises KeyboardInterrupt at once, so
    Optuna marks that trial FAIL ("interrupted"). Anywhere else (Optuna's bookkeeping,
    storage writes) it only sets ``requested`` and asks the study to stop before its next
    trial. So no storage write is cut in half and no trial is left RUNNING.
    """

    def __init__(self, study=None) -> None:
        self.study = study
        self.requested = False
        self.inside = False
        self._previous: dict = {}

    def __enter__(self) -> CtrlC:
        self.inside = True
        if self.requested:
            raise KeyboardInterrupt
        return self

    def __exit__(self, *exc) -> None:
        self.inside = False

    def _handler(self, signum, frame) -> None:
        self.requested = True
        if self.inside:
            raise KeyboardInterrupt
        if self.study is not None:
            with contextlib.suppress(RuntimeError):  # not inside optimize(): nothing to stop
                self.study.stop()  # no new trial is started

    def install(self) -> bool:
        """Install the handler (main thread only); returns whether it was installed."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handler)
        return True

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}


class _DropInterrupts(logging.Filter):
    """Hide Optuna's "Trial N failed ... KeyboardInterrupt" warning and its traceback, and
    the "Trial N failed with value None" line that follows it.

    Ctrl-C is a user's request, not an error: the trial is recorded FAIL ("interrupted") and
    the command says how to continue, so a traceback on stderr would only alarm.
    """

    interrupted: str | None = None  # "Trial N failed" of the trial Ctrl-C stopped

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[0] if record.exc_info else None
        message = record.getMessage()
        if exc is not None and issubclass(exc, KeyboardInterrupt):
            self.interrupted = " ".join(message.split()[:3])  # "Trial 7 failed"
            return False
        return not (self.interrupted and message.startswith(self.interrupted + " with value"))


def _quiet_interrupts(logger: logging.Logger) -> None:
    # On the handlers: a logger's own filters do not see records of its child loggers
    # (Optuna logs the failed trial from optuna.study._optimize).
    for handler in logger.handlers:
        if not any(isinstance(f, _DropInterrupts) for f in handler.filters):
            handler.addFilter(_DropInterrupts())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class SearchResult:
    """What one ``run_search`` call did.

    Attributes:
        study: study name.
        ran: trials this process started (any final state).
        complete/pruned/failed: counts over the whole study after the run.
        best_spec: spec string of the best trial (first objective), or None.
        best_values: its objective values.
        interrupted: Ctrl-C stopped the run.
    """

    study: str
    ran: int = 0
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    best_spec: str | None = None
    best_values: list[float] = field(default_factory=list)
    interrupted: bool = False


def best_trial(study):
    """Best complete trial of a study (multi-objective: best first objective on the front)."""
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    sign = 1.0 if study.directions[0].name == "MAXIMIZE" else -1.0
    pool = study.best_trials if len(study.directions) > 1 else complete
    return max(pool, key=lambda t: (sign * t.values[0], -t.number))


def _summarise(study, result: SearchResult) -> SearchResult:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    result.complete = sum(t.state == TrialState.COMPLETE for t in trials)
    result.pruned = sum(t.state == TrialState.PRUNED for t in trials)
    result.failed = sum(t.state == TrialState.FAIL for t in trials)
    best = best_trial(study)
    if best is not None:
        result.best_spec = best.user_attrs.get("spec")
        result.best_values = list(best.values)
    return result


def run_search(
    target: str,
    *,
    storage: str,
    study: str | None = None,
    config: StudyConfig | None = None,
    root: Path | None = None,
    trials: int | None = None,
    until: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    verbose: int = 0,
    scorer: Scorer | None = None,
) -> SearchResult:
    """Search transforms for ``target`` in study ``study`` of ``storage``.

    Args:
        target: vocals, drums, bass or other.
        storage: Optuna storage URL (see ``storage.open_storage``).
        study: study name (default: the target's name).
        config: study configuration (default: built-in = studies/default.toml).
        root: dataset root (default: ``$MUSDB_PATH``, else the demo corpus).
        trials: trials this process runs (default: config, unless until/timeout is given).
        until: stop once the study holds this many complete trials.
        timeout: stop starting trials after this many seconds.
        progress: show a progress bar on stderr.
        verbose: 0 quiet Optuna, 1 one line per trial.
        scorer: replacement for ``tfselect.metrics.score`` (same signature).

    Raises:
        TfselectError: bad target/objective/sampler/config, unreachable storage, a study made
            for another target/objective/clips, unusable dataset. Nothing is written then.
        KeyboardInterrupt: Ctrl-C (the running trial is marked FAIL, others are kept).
    """
    import optuna

    cfg = config or StudyConfig()
    if target not in TARGETS:
        raise TfselectError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    for name, value in (("--trials", trials), ("--until", until)):
        if value is not None and value < 0:
            raise TfselectError(f"{name} must be >= 0, got {value}")
    if timeout is not None and not timeout > 0:
        raise TfselectError(f"--timeout must be > 0 seconds, got {timeout}")
    cfg.space.validate()
    objectives = parse_objectives(cfg.search.objective)
    metrics = resolve_metrics(cfg.search.metrics, objectives)
    make_sampler(cfg.search.sampler, cfg.search.seed, len(objectives))  # fail fast on a bad name
    name = study or default_study_name(target)
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    _quiet_interrupts(optuna.logging.get_logger("optuna"))

    store = open_storage(storage)
    tags = StudyTags(
        target=target,
        objective=objectives.text,
        directions=tuple(objectives.directions),
        clips=cfg.clips.as_dict() | {"seed": cfg.search.seed},
        metrics=metrics,
        choices=cfg.space.choices(),
    )
    _precheck(store, name, tags)

    if trials is None and until is None and timeout is None:
        trials = cfg.search.trials
    if until is not None and _n_complete(store, name) >= until and trials is None:
        return _summarise(optuna.load_study(study_name=name, storage=store), SearchResult(name))

    from tfselect.audio.clips import sample_clips
    from tfselect.audio.dataset import resolve_root

    data_root = resolve_root(root)
    clips = sample_clips(
        data_root,
        subset=cfg.clips.split,
        n_clips=cfg.clips.n_clips,
        seconds=cfg.clips.seconds,
        seed=cfg.search.seed,
        target=target,
        skip_silent=cfg.clips.skip_silent,
        max_tracks=cfg.clips.max_tracks,
    )
    tags = replace(tags, root=str(Path(data_root).resolve()))
    # Sampler seed: --seed, the trials already there (a resumed run does not replay its first
    # proposals) and the process id. Workers started together see the same study, so only the
    # pid tells them apart: without it K workers would propose the same candidates. The
    # clips, which decide every score, stay fixed by --seed alone.
    sampler_seed = (cfg.search.seed + _n_trials(store, name)) * 1_000_003 + os.getpid()
    sampler_seed %= 2**31
    sampler = make_sampler(cfg.search.sampler, sampler_seed, len(objectives))
    st = open_study(store, name, tags, sampler)
    stale.fail_stale(st)  # trials of dead workers on this host (journal files: no heartbeat)

    objective = TrialObjective(
        cfg.space, objectives, target, clips, metrics, cfg.search.device, scorer
    )
    _score_references(st, objective)
    ctrl_c = CtrlC(st)
    if cfg.search.jobs == 1 and ctrl_c.install():
        objective.interrupt = ctrl_c

    if cfg.search.jobs > 1:
        import torch

        # Threads share the cores: one intra-op thread pool per job, no oversubscription.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg.search.jobs))

    result = SearchResult(name)
    callbacks: list = []
    if until is not None:
        from optuna.study import MaxTrialsCallback
        from optuna.trial import TrialState

        callbacks.append(MaxTrialsCallback(until, states=(TrialState.COMPLETE,)))
        if trials is None and timeout is None:
            callbacks.append(_GiveUp(GIVE_UP_AFTER))  # a space that never completes a trial
    total = trials
    if total is None and until is not None:
        total = max(0, until - _n_complete(store, name))
    bar = _Progress(total, objectives, st, enabled=progress)
    callbacks.append(bar)
    try:
        if trials != 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                st.optimize(
                    objective,
                    n_trials=trials,
                    timeout=timeout,
                    n_jobs=cfg.search.jobs,
                    catch=(Exception,),
                    callbacks=callbacks,
                    gc_after_trial=True,
                )
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        ctrl_c.restore()
        bar.close()
    result.interrupted = result.interrupted or ctrl_c.requested
    result.ran = bar.count
    _summarise(st, result)
    if result.interrupted:
        raise Interrupted(
            f"interrupted after {result.ran} trial(s) in this run; study "
            f"{name!r} keeps {result.complete} complete trial(s); rerun the same command "
            "to continue"
        )
    return result


def _summary_for(store, name: str):
    for s in store.get_all_studies():
        if s.study_name == name:
            return s
    return None


def _n_trials(store, name: str) -> int:
    s = _summary_for(store, name)
    return 0 if s is None else store.get_n_trials(s._study_id)


def _n_complete(store, name: str) -> int:
    from optuna.trial import TrialState

    s = _summary_for(store, name)
    if s is None:
        return 0
    return store.get_n_trials(s._study_id, state=TrialState.COMPLETE)


def _precheck(store, name: str, tags: StudyTags) -> None:
    """Check an existing study's tags without writing anything (fail before reading audio)."""
    from tfselect.search.study import TAG, check_tags

    s = _summary_for(store, name)
    if s is not None and isinstance(s.user_attrs.get(TAG), Mapping):
        check_tags(name, StudyTags.from_dict(s.user_attrs[TAG]), tags)


def _score_references(study, objective: TrialObjective) -> None:
    """Score the reference transforms on this process's clips once per study."""
    have = baselines(study)
    for spec in REFERENCES.values():
        if spec in have and all(m in have[spec] for m in objective.metrics):
            continue
        try:
            _, metrics = objective.evaluate(spec, cap=False)
        except Exception as exc:  # a reference that cannot be scored must not stop the search
            log.warning("reference %s not scored: %s", spec, _one_line(exc))
            print(f"tfselect: warning: reference {spec} not scored: {_one_line(exc)}",
                  file=sys.stderr)  # fmt: skip
            continue
        set_baseline(study, spec, metrics)


class _GiveUp:
    """Optuna callback: stop after ``limit`` trials in a row that did not complete."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak = 0
        self.gave_up = False

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        self.streak = 0 if trial.state == TrialState.COMPLETE else self.streak + 1
        if self.streak >= self.limit and not self.gave_up:
            self.gave_up = True
            print(
                f"tfselect: warning: {self.limit} trials in a row did not complete (see their "
                "fail_reason in `tfselect report`); stopping --until early",
                file=sys.stderr,
            )
            study.stop()


class _Progress:
    """Optuna callback driving a tqdm bar with the best value so far (stderr)."""

    def __init__(self, total: int | None, objectives: Objectives, study, enabled: bool) -> None:
        from tqdm import tqdm

        self.count = 0
        self.objectives = objectives
        self.t0 = time.perf_counter()
        self.bar = tqdm(
            total=total,
            desc=f"search {study.study_name}",
            unit="trial",
            file=sys.stderr,
            disable=not enabled,
            dynamic_ncols=True,
        )
        self._set_postfix(study)

    def _set_postfix(self, study) -> None:
        best = best_trial(study)
        if best is None:
            self.bar.set_postfix_str("best -")
            return
        primary = str(self.objectives.primary)
        self.bar.set_postfix_str(
            f"best {primary}={best.values[0]:.3f} ({best.user_attrs.get('spec', '?')})"
        )

    def __call__(self, study, trial) -> None:
        self.count += 1
        self.bar.update(1)
        self._set_postfix(study)

    def close(self) -> None:
        self.bar.close()
