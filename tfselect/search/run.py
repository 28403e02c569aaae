"""Run a per-target search: parse, check, draw the pool, then let Optuna run the trials.

One process: parse and check everything (objective, sampler, pruner, storage, study tags,
root) before reading audio; draw the clip pool once (deterministic for the seed); open or
create the study (creating it queues the reference transforms as its first trials); then
run trials (:class:`tfselect.search.trial.TrialObjective`).

Semantics:
- ``trials=N`` evaluates N more distinct candidates in this process, so K workers with N
  each add exactly K·N and re-running after a crash continues the same study. A proposal
  that repeats an earlier candidate is answered from its stored result and does not count;
  after ``MAX_REPEATS`` repeats in a row the space counts as exhausted and the run stops;
- ``until=N`` stops once the study holds N complete distinct candidates (all workers);
- a candidate raced out by the Wilcoxon pruner is PRUNED with its reason in the trial's
  ``fail_reason`` user attr; any other error FAILs that trial only; the study goes on;
- Ctrl-C marks the running trial FAIL ("interrupted") and stops; finished trials stay.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from tfselect import interrupts
from tfselect.audio.dataset import resolve_root
from tfselect.audio.targets import check_target
from tfselect.errors import Interrupted, TfselectError
from tfselect.search import stale
from tfselect.search.config import StudyConfig
from tfselect.search.objectives import Objectives, parse_objectives, trial_metrics
from tfselect.search.ranking import best_trial, complete_trials, direction_sign
from tfselect.search.storage import open_storage
from tfselect.search.study import (
    REFERENCES,
    RESERVED_ATTRS,
    TAG,
    StudyTags,
    check_tags,
    confirm_key,
    find_study,
    make_pruner,
    make_sampler,
    n_trials,
    open_study,
    stored_spec,
)
from tfselect.search.trial import (
    ScorerFactory,
    TrialObjective,
    pool_ids,
    sample_pool,
    split_confirmation,
)
from tfselect.transforms.spec import TransformSpec

# Imported inside the functions that need them, so that importing this module stays light:
# optuna.

log = logging.getLogger(__name__)

__all__ = [
    "REFERENCES", "RESERVED_ATTRS", "CtrlC", "SearchResult", "TrialObjective", "best_trial",
    "run_search",
]  # fmt: skip

# --until alone stops after this many trials in a row that did not complete.
GIVE_UP_AFTER = 50
# Proposals in a row that repeat earlier candidates before the space counts as exhausted.
MAX_REPEATS = 100


def default_study_name(target: str) -> str:
    """Study name used when ``--study`` is not given: one study per target."""
    return target


class CtrlC:
    """SIGINT (and SIGTERM, what ``timeout`` and schedulers send) handling that stops a
    search cleanly.

    Python runs signal handlers in the main thread only. With ``--jobs 1`` the trials run
    there too: inside a trial's scoring (``with ctrl_c:``) Ctrl-C raises KeyboardInterrupt at
    once, so Optuna marks that trial FAIL ("interrupted"). Anywhere else (Optuna's
    bookkeeping, storage writes) it only sets ``requested`` and asks the study to stop before
    its next trial. So no storage write is cut in half and no trial is left RUNNING.

    With ``--jobs N`` the main thread only waits for the worker threads, and the handler never
    raises there: an exception in the main thread would abandon workers still inside torch
    or SQLite. (Worse, on Python <= 3.11 a ``Thread.join`` that a KeyboardInterrupt cuts
    marks the running thread dead, CPython gh-90882, so the interpreter exits under it: its
    trial left RUNNING, reported as segfaults.) Each worker sees ``requested`` itself at its
    next ``with ctrl_c:`` (between two clips) or trial start and fails its trial there;
    :meth:`stop_study` (an Optuna callback) stops the study from a worker, the only place
    Optuna's ``study.stop()`` works with ``n_jobs > 1``.
    """

    def __init__(self, study=None) -> None:
        self.study = study
        self.requested = False
        self._scoring = threading.local()  # per thread: inside ``with ctrl_c:`` now
        self._previous: dict = {}

    @property
    def inside(self) -> bool:
        """Whether this thread is inside ``with ctrl_c:`` (scoring a trial)."""
        return getattr(self._scoring, "inside", False)

    def __enter__(self) -> CtrlC:
        if self.requested:
            raise KeyboardInterrupt
        self._scoring.inside = True
        return self

    def __exit__(self, *exc) -> None:
        self._scoring.inside = False

    def _handler(self, signum, frame) -> None:
        self.requested = True
        if self.inside:  # the main thread is scoring: --jobs 1
            if interrupts.later_if_importing(frame):
                return  # handed again once the import has ended (interrupts says why)
            raise KeyboardInterrupt
        if self.study is not None:
            with contextlib.suppress(RuntimeError):  # not inside optimize(): nothing to stop
                self.study.stop()  # no new trial is started

    def stop_study(self, study, trial) -> None:
        """Optuna callback: after Ctrl-C, start no new trial (``--jobs N``, see above)."""
        if self.requested:
            study.stop()

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
    the command says how to continue, so a traceback on stderr would only alarm. With
    ``--jobs N`` several trials stop at once and their lines interleave: hence a set.

    Also hidden: a worker told that its trial was finished meanwhile (UpdateFinishedTrialError).
    Two workers may pop the same queued trial (SQLite, see ``run_search``); the first to
    finish it records the result, and the other one has nothing to report.
    """

    def __init__(self) -> None:
        super().__init__()
        self.dropped: set[str] = set()  # "Trial N failed" of the warnings hidden

    def filter(self, record: logging.LogRecord) -> bool:
        from optuna.exceptions import UpdateFinishedTrialError

        exc = record.exc_info[0] if record.exc_info else None
        message = record.getMessage()
        head = " ".join(message.split()[:3])  # "Trial 7 failed"
        if exc is not None and issubclass(exc, (KeyboardInterrupt, UpdateFinishedTrialError)):
            self.dropped.add(head)
            return False
        if head in self.dropped and message.startswith(head + " with value"):
            self.dropped.discard(head)
            return False
        return True


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
    """What one ``run_search`` call did, and what the study holds after it.

    Attributes:
        study: study name.
        ran: distinct candidates this process evaluated (any final state).
        raced: of those, the ones the racing stopped early.
        repeats: proposals this process answered from an earlier trial (not counted in ran).
        exhausted: the run stopped because proposals kept repeating earlier candidates.
        gave_up: ``--until`` alone stopped after too many trials in a row did not complete.
        complete/pruned/failed: distinct candidates of the whole study after the run, by
            state (pruned = raced out or invalid).
        best_spec: spec string of the best trial (first objective), or None.
        best_values: its objective values.
        interrupted: Ctrl-C stopped the run.
        confirmed: specs (canonical text) this run scored on the confirmation tracks.
    """

    study: str
    ran: int = 0
    raced: int = 0
    repeats: int = 0
    exhausted: bool = False
    gave_up: bool = False
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    best_spec: str | None = None
    best_values: list[float] = field(default_factory=list)
    interrupted: bool = False
    confirmed: list[str] = field(default_factory=list)


def _summarise(study, result: SearchResult) -> SearchResult:
    from optuna.trial import TrialState

    trials = [t for t in study.get_trials(deepcopy=False) if "reused_from" not in t.user_attrs]
    result.complete = sum(t.state == TrialState.COMPLETE for t in trials)
    result.pruned = sum(t.state == TrialState.PRUNED for t in trials)
    result.failed = sum(t.state == TrialState.FAIL for t in trials)
    best = best_trial(study)
    if best is not None:
        result.best_spec = best.user_attrs.get("spec")
        result.best_values = list(best.values)
    return result


def _map_tag(cfg: StudyConfig) -> dict[str, Any]:
    """The target map as part of the clip tags: a resumed study must read the same targets."""
    return {"targets": cfg.targets.as_dict()} if cfg.targets is not None else {}


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
    scorer: ScorerFactory | None = None,
) -> SearchResult:
    """Search transforms for ``target`` in study ``study`` of ``storage``.

    Args:
        target: vocals, drums, bass or other.
        storage: Optuna storage URL (see ``storage.open_storage``).
        study: study name (default: the target's name).
        config: study configuration (default: built-in = studies/default.toml).
        root: dataset root (default: ``$MUSDB_PATH``, else the demo corpus).
        trials: distinct candidates this process evaluates (default: config, unless
            until/timeout is given).
        until: stop once the study holds this many complete distinct candidates.
        timeout: stop starting trials after this many seconds.
        progress: show a progress bar on stderr.
        verbose: 0 quiet Optuna, 1 one line per trial.
        scorer: replacement for ``tfselect.metrics.ClipScorer`` (see ``trial.ScorerFactory``).

    Raises:
        TfselectError: bad target/objective/sampler/pruner/config, unreachable storage, a
            study made for another target/objective/clips/root, an empty clip pool. Nothing
            is written then.
        KeyboardInterrupt: Ctrl-C (the running trial is marked FAIL, others are kept).
    """
    import optuna

    cfg = config or StudyConfig()
    for name, value in (("--trials", trials), ("--until", until)):
        if value is not None and value < 0:
            raise TfselectError(f"{name} must be >= 0, got {value}")
    if timeout is not None and not timeout > 0:
        raise TfselectError(f"--timeout must be > 0 seconds, got {timeout}")
    cfg.space.validate()
    objectives = parse_objectives(cfg.search.objective)
    metrics = trial_metrics(cfg.search.metrics, objectives)
    make_sampler(cfg.search.sampler, cfg.search.seed, len(objectives))  # fail fast on a bad name
    pruner = make_pruner(cfg.search.pruner, cfg.search.p_threshold, cfg.search.race_min_clips)
    name = study or default_study_name(target)
    # -v: one line per trial from _Progress (the spec, not Optuna's parameter names), written
    # above the bar; Optuna's own INFO lines would print through it.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _quiet_interrupts(optuna.logging.get_logger("optuna"))

    data_root = resolve_root(root)
    check_target(data_root, target, cfg.targets)  # the dataset's names, before any audio
    store = open_storage(storage)  # after every check: a refusal creates no database
    clip_tag = cfg.clips.as_dict()
    if _made_before_confirmation(store, name):
        # Its clips were drawn before the confirmation split existed: it keeps racing on
        # every clip of its pool, as it was made.
        cfg = replace(cfg, clips=replace(cfg.clips, confirm=0.0))
        clip_tag = cfg.clips.pool_dict()
    tags = StudyTags(
        target=target,
        objective=objectives.text,
        directions=tuple(objectives.directions),
        clips=clip_tag | {"seed": cfg.search.seed} | _map_tag(cfg),
        metrics=metrics,
        root=str(Path(data_root).resolve()),
        choices=cfg.space.choices(),
    )
    _precheck(store, name, tags)

    if trials is None and until is None and timeout is None:
        trials = cfg.search.trials
    if until is not None and _n_complete(store, name) >= until and trials is None:
        return _summarise(optuna.load_study(study_name=name, storage=store), SearchResult(name))

    pool = sample_pool(data_root, cfg.clips, cfg.search.seed, target, cfg.targets)
    pool, held_out = split_confirmation(
        pool, cfg.clips.confirm, cfg.clips.confirm_min, cfg.search.seed
    )
    tags = replace(tags, pool=pool_ids(pool), confirm=pool_ids(held_out))
    # The sampler is reseeded before every trial from (--seed, trial number): see
    # study.reseed_sampler. One process with one seed replays its proposals on a fresh study;
    # workers sharing a study get different trial numbers, hence different proposals.
    sampler_seed = cfg.search.seed
    sampler = make_sampler(cfg.search.sampler, sampler_seed, len(objectives))
    st = open_study(store, name, tags, sampler, pruner, cfg.space)
    stale.fail_stale(st)  # trials of dead workers on this host (journal files: no heartbeat)

    objective = TrialObjective(
        cfg.space, objectives, target, pool, metrics, cfg.search.device, scorer,
        race=cfg.search.pruner != "none", seed=cfg.search.seed,
        metric_clips=cfg.clips.metric_clips, screen=cfg.search.screen,
        screen_by=cfg.search.screen_by, screen_clips=cfg.search.screen_clips,
    )  # fmt: skip
    ctrl_c = CtrlC(st)
    if ctrl_c.install():  # whatever --jobs: the handler never raises in a waiting main thread
        objective.interrupt = ctrl_c

    if cfg.search.jobs > 1:
        # Threads share the cores: one intra-op thread pool per job, no oversubscription.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // cfg.search.jobs))

    result = SearchResult(name)
    counter = _Count(MAX_REPEATS)
    callbacks: list = [counter, ctrl_c.stop_study]
    give_up = _GiveUp(GIVE_UP_AFTER)
    if until is not None:
        callbacks.append(_Until(until))
        if trials is None and timeout is None:
            callbacks.append(give_up)  # a space that never completes a trial
    total = trials
    if total is None and until is not None:
        total = max(0, until - _n_complete(store, name))
    bar = _Progress(total, objectives, st, enabled=progress, verbose=bool(verbose))
    callbacks.append(bar)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Rounds: each runs as many trials as distinct candidates are still owed, so
            # repeats (answered from the study, not counted) never eat the budget, and
            # parallel jobs never overshoot it.
            while trials != 0 and not ctrl_c.requested:
                owed = None if trials is None else trials - counter.new
                left = None if deadline is None else deadline - time.monotonic()
                if (owed is not None and owed <= 0) or (left is not None and left <= 0):
                    break
                try:
                    st.optimize(
                        objective,
                        n_trials=owed,
                        timeout=left,
                        n_jobs=cfg.search.jobs,
                        catch=(Exception,),
                        callbacks=callbacks,
                        gc_after_trial=True,
                    )
                except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:
                    # SQLite cannot lock rows, so two workers (or two --jobs threads) may pop
                    # the same enqueued trial (a reference); the other one finished it first
                    # and Optuna refuses this worker's result, either when telling it ("Cannot
                    # tell a ...") or when the storage writes it (UpdateFinishedTrialError).
                    # Nothing is lost: go on (a Ctrl-C meanwhile still ends the loop).
                    finished = isinstance(exc, optuna.exceptions.UpdateFinishedTrialError)
                    if not (finished or str(exc).startswith("Cannot tell a")):
                        raise
                    log.info("a trial was finished by another worker: %s", exc)
                    continue
                if trials is None or counter.stopped or ctrl_c.requested:
                    break  # --until/--timeout ran in one round; exhausted; Ctrl-C
                if any(getattr(c, "stopped", False) for c in callbacks):
                    break
        if held_out and not ctrl_c.requested:
            bar.close()
            _confirm(st, objective, held_out, cfg.search.finalists, result)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        ctrl_c.restore()
        bar.close()
    result.interrupted = result.interrupted or ctrl_c.requested
    result.ran, result.raced, result.repeats = counter.new, counter.raced, counter.repeats
    result.exhausted, result.gave_up = counter.stopped, give_up.gave_up
    _summarise(st, result)
    if result.interrupted:
        raise Interrupted(
            f"interrupted after {result.ran} candidate(s) in this run; study "
            f"{name!r} keeps {result.complete} complete candidate(s); rerun the same command "
            "to continue"
        )
    return result


def _made_before_confirmation(store, name: str) -> bool:
    """Study ``name`` exists, tagged by a version without the confirmation split."""
    s = find_study(store, name)
    tag = None if s is None else s.user_attrs.get(TAG)
    return isinstance(tag, Mapping) and "confirm" not in tag.get("clips", {})


def finalists(study, k: int) -> list[TransformSpec]:
    """Specs scored on the confirmation clips: the ``k`` best complete candidates other than
    the references (first objective), then the references' specs."""
    sign = direction_sign(study)
    refs = {str(s) for s in REFERENCES.values()}
    ranked = sorted(
        (t for t in complete_trials(study) if t.user_attrs.get("spec", "") not in refs | {""}),
        key=lambda t: (-sign * t.values[0], t.number),
    )
    return [stored_spec(t) for t in ranked[:k]] + list(REFERENCES.values())


def _confirm(study, objective: TrialObjective, clips: list, k: int, result) -> None:
    """Score the finalists and the references on the held-out clips (stored in the study)."""
    specs = finalists(study, k)
    done = study.user_attrs
    todo = [s for s in specs if done.get(confirm_key(s)) is None]
    if todo:
        tracks = len({c.track for c in clips})
        log.info("confirming %d spec(s) on %d clips of %d held-out tracks",
                 len(todo), len(clips), tracks)  # fmt: skip
        if result is not None:
            result.confirmed = [str(s) for s in objective.confirm(study, clips, todo)]


def _n_trials(store, name: str) -> int:
    return n_trials(store, name)


def _n_complete(store, name: str) -> int:
    import optuna

    s = find_study(store, name)
    if s is None:
        return 0
    return len(complete_trials(optuna.load_study(study_name=name, storage=store)))


def _precheck(store, name: str, tags: StudyTags) -> None:
    """Check an existing study's tags without writing anything (fail before reading audio)."""

    s = find_study(store, name)
    if s is not None and isinstance(s.user_attrs.get(TAG), Mapping):
        check_tags(name, StudyTags.from_dict(s.user_attrs[TAG]), tags)


class _Count:
    """Optuna callback: this process's distinct candidates, raced ones and repeats; stops
    the study after ``limit`` repeats in a row (the space is exhausted)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.new = self.raced = self.repeats = self.streak = 0
        self.stopped = False

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        if "reused_from" in trial.user_attrs:
            self.repeats += 1
            self.streak += 1
        else:
            self.new += 1
            self.streak = 0
            reason = trial.user_attrs.get("fail_reason") or ""
            self.raced += trial.state == TrialState.PRUNED and reason.startswith("raced out")
        if self.streak >= self.limit and not self.stopped:
            self.stopped = True
            # SearchResult.exhausted carries it to the caller, who says it to the user.
            log.info("the last %d proposals all repeated earlier candidates: stopping", self.limit)
            study.stop()


class _Until:
    """Optuna callback: stop once the study holds ``n`` complete distinct candidates."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.stopped = False

    def __call__(self, study, trial) -> None:
        if len(complete_trials(study)) >= self.n:
            self.stopped = True
            study.stop()


class _GiveUp:
    """Optuna callback: stop after ``limit`` trials in a row that did not complete."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.streak = 0
        self.gave_up = False
        self.stopped = False

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        self.streak = 0 if trial.state == TrialState.COMPLETE else self.streak + 1
        if self.streak >= self.limit and not self.gave_up:
            self.gave_up = self.stopped = True
            # SearchResult.gave_up carries it to the caller, who says it to the user.
            log.info("%d trials in a row did not complete: stopping --until early", self.limit)
            study.stop()


def trial_line(trial, objective: str) -> str:
    """One line for a finished trial, in the user's words: number, state, the objective's
    value(s) and the spec (or why it stopped), e.g. ``trial 3 complete: mpi=12.345
    stft:n_fft=4096,hop=1024``."""
    spec = trial.user_attrs.get("spec", "")
    head = f"trial {trial.number} {trial.state.name.lower()}"
    reused = trial.user_attrs.get("reused_from")
    if reused is not None:
        head += f" (a repeat of trial {reused})"
    if trial.values:
        values = " ".join(f"{v:.3f}" for v in trial.values)
        return f"{head}: {objective}={values} {spec}".rstrip()
    reason = trial.user_attrs.get("fail_reason") or trial.system_attrs.get("fail_reason", "")
    return f"{head}: {spec}{'; ' if spec and reason else ''}{reason}"



class _Progress:
    """Optuna callback driving a tqdm bar (distinct candidates) with the best value so far;
    with ``verbose``, one line per finished trial above the bar (:func:`trial_line`)."""

    def __init__(self, total: int | None, objectives: Objectives, study, enabled: bool,
                 verbose: bool = False) -> None:
        self.objectives = objectives
        self.verbose = verbose
        self.bar = tqdm(
            total=total,
            desc=f"search {study.study_name}",
            unit="candidate",
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
        if "reused_from" not in trial.user_attrs:
            self.bar.update(1)
        if self.verbose:
            self.bar.write(trial_line(trial, str(self.objectives.primary)), file=sys.stderr)
        self._set_postfix(study)

    def close(self) -> None:
        self.bar.close()
