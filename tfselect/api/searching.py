"""Search the transform space for one target; read a study's chosen spec back."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import tfselect.report.best as choosing  # called through the module: a stand-in can replace it
from tfselect.checks import check_ranges, check_seed
from tfselect.report.best import Choice
from tfselect.search.config import load_config
from tfselect.search.run import SearchResult, default_study_name, run_search
from tfselect.search.stale import fail_stale_in
from tfselect.search.storage import DEFAULT_STORAGE


@dataclass(frozen=True)
class Search:
    """What a search run did (``result``: counts, the study's state) and, once the study
    holds a complete candidate, the spec chosen from it (``choice``; else None)."""

    result: SearchResult
    choice: Choice | None


def _metric_list(metrics: str | None) -> tuple[str, ...] | str | None:
    """``--metrics`` as the config holds it: "all", a tuple of names, or None (not given)."""
    if metrics is None:
        return None
    if metrics.strip() == "all":
        return "all"
    return tuple(m.strip() for m in metrics.split(",") if m.strip())


def search(
    target: str,
    trials: int | None = None,
    until: int | None = None,
    timeout: float | None = None,
    objective: str | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    metrics: str | None = None,
    storage: str = DEFAULT_STORAGE,
    study: str | None = None,
    config: Path | str | None = None,
    root: Path | str | None = None,
    clips: int | None = None,
    seconds: float | None = None,
    max_tracks: int | None = None,
    seed: int | None = None,
    jobs: int | None = None,
    device: str | None = None,
    screen: int | None = None,
    progress: bool = True,
    verbose: int = 0,
) -> Search:
    """Run trials of the Optuna study of ``target`` (resumable; see ``run_search``).

    Arguments left None take the study configuration's value (``config``, else the
    defaults ``tfselect config`` prints). ``trials``: N more trials in this process;
    ``until``: stop once the study holds N complete trials; ``timeout``: seconds after
    which no trial starts; ``seconds``: clip length; ``metrics``: "all" or a comma list;
    ``screen``: screen K proposals with a cheap metric and race the best.
    """
    check_seed(seed)
    check_ranges(("--trials", trials, 0, 10**9), ("--until", until, 1, 10**9),
                 ("--clips", clips, 1, 10_000), ("--jobs", jobs, 1, 1024),
                 ("--max-tracks", max_tracks, 1, 10**6), ("--seconds", seconds, 0, 3600))
    cfg = load_config(config).override(
        objective=objective, sampler=sampler, pruner=pruner, metrics=_metric_list(metrics),
        seed=seed, device=device, jobs=jobs, n_clips=clips, seconds=seconds,
        max_tracks=max_tracks, screen=screen,
    )  # fmt: skip
    result = run_search(
        target, storage=storage, study=study, config=cfg,
        root=Path(root) if root is not None else None, trials=trials, until=until,
        timeout=timeout, progress=progress, verbose=verbose,
    )  # fmt: skip
    choice = None if result.best_spec is None else choosing.best_choice(storage, target,
                                                                         result.study)
    return Search(result, choice)


@dataclass(frozen=True)
class StaleTrials:
    """The RUNNING trials of dead workers that ``fail_stale`` marked FAIL, by number."""

    study: str
    failed: list[int]


def fail_stale(
    target: str, storage: str = DEFAULT_STORAGE, study: str | None = None
) -> StaleTrials:
    """Mark FAIL the RUNNING trials of dead workers on this host in the study of ``target``."""
    name = study or default_study_name(target)
    return StaleTrials(name, fail_stale_in(storage, name))


def best(
    target: str, storage: str = DEFAULT_STORAGE, study: str | None = None,
    select: str = "significant",
) -> Choice:  # fmt: skip
    """The spec chosen for ``target`` from ``study`` (or all the target's studies).

    ``select``: ``significant`` (the best only when significantly better than the better
    reference, else that reference) or ``best``. ``Choice.spec`` is the answer;
    ``Choice.sentence()`` says why.
    """
    return choosing.best_choice(storage, target, study, select)


def default_config() -> str:
    """The default study configuration (TOML text) to copy and edit."""
    return files("tfselect").joinpath("default.toml").read_text()
