"""Study configuration: a TOML file users copy and edit (``studies/default.toml``).

Four tables (the last one optional); every key is optional (missing keys keep the defaults
below, which equal ``studies/default.toml``), unknown keys are an error naming the key::

    [space]    ranges and choices of candidate transforms (see ``space.SearchSpace``)
    [clips]    split, n_clips, seconds, max_tracks, skip_silent, metric_clips (the pool)
    [search]   objective, sampler, pruner, p_threshold, race_min_clips, trials, metrics,
               seed, device, jobs
    [targets]  optional target map: target = stem or [stems] (see ``audio.targets``)

Command-line flags override the file (``StudyConfig.override``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tfselect.audio.targets import TargetMap
from tfselect.errors import TfselectError
from tfselect.search.objectives import DEFAULT_OBJECTIVE, parse_objectives, trial_metrics
from tfselect.search.space import SearchSpace
from tfselect.search.study import SAMPLERS
from tfselect.tomlfile import read_toml

SPLITS = ("train+valid", "train", "valid", "test")
PRUNERS = ("wilcoxon", "none")
MAX_SECONDS = 3600.0  # a clip is held in memory with its coefficients: an hour at most


# ClipConfig fields of the confirmation split: a study made before the split existed has
# none of them in its tags, and a survey (no racing) never has them.
CONFIRM_KEYS = ("confirm", "confirm_min")


@dataclass(frozen=True)
class ClipConfig:
    """The clip pool: drawn once per study (seeded), the same clips for every trial.

    Attributes:
        split: tracks the pool draws from: "train+valid" (every non-test track, default),
            "train", "valid" (MUSDB's validation tracks) or "test".
        n_clips: clips drawn per track (``sample_clips``).
        seconds: clip length in seconds.
        max_tracks: use at most this many tracks, by name (None: all).
        skip_silent: do not pick clips where the target is (near) silent.
        metric_clips: the metrics that are not in the objective (sparsity, ridges, other
            oracles, cost) are computed only on this many clips, the same fixed subset of
            the pool for every candidate; the objective is computed on every clip.
        confirm: fraction of the pool's tracks kept out of the race (a seeded draw): when
            the search ends, the finalists and both references are scored on their clips,
            and best.csv's verdict and lead come from those tracks alone, which did not
            choose the winner (no winner's curse). 0 turns it off.
        confirm_min: the confirmation needs at least this many tracks, and the race keeps at
            least as many; a smaller pool has no confirmation split. With fewer than 6
            tracks the exact signed-rank test cannot reach p < 0.05.
    """

    split: str = "train+valid"
    n_clips: int = 3
    seconds: float = 4.0
    max_tracks: int | None = None
    skip_silent: bool = True
    metric_clips: int = 4
    confirm: float = 0.3
    confirm_min: int = 6

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def pool_dict(self) -> dict[str, Any]:
        """:meth:`as_dict` without the confirmation split's fields: what draws the pool."""
        return {k: v for k, v in self.as_dict().items() if k not in CONFIRM_KEYS}


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs.

    Attributes:
        objective: objective string (see ``objectives``); default MPI oracle SDR.
        sampler: tpe, gp, random, cmaes or nsga2.
        pruner: "wilcoxon" races candidates clip by clip and stops one as soon as it is
            significantly worse than the best so far (Wilcoxon signed-rank test on the
            clips both saw); "none" scores every candidate on every clip. Racing needs a
            single objective (several objectives: every clip).
        p_threshold: the racing's p-value threshold, in (0, 1); larger stops sooner.
        race_min_clips: clips a candidate sees before it may be stopped.
        trials: trials this process runs when no --trials/--until/--timeout is given.
        metrics: metrics computed per trial, metric or group names (sparsity, ridges,
            oracles, cost); "all" keeps every metric for the reports (the objective's
            metrics are always added).
        seed: seed of the clip sampling and of the sampler.
        device: torch device of the scoring.
        jobs: trials run in parallel threads by this process.
        finalists: the best complete candidates scored on the confirmation tracks when the
            search ends (with both references).
        screen: 0 (off) or K >= 2: each trial draws K proposals, scores them with
            ``screen_by`` on ``screen_clips`` clips, and races only the most promising
            (the others are recorded PRUNED, "screened out").
        screen_by: the metric that screens (its own direction decides "promising").
        screen_clips: clips each proposal is screened on (the first of the metric subset).
    """

    objective: str = DEFAULT_OBJECTIVE
    sampler: str = "tpe"
    pruner: str = "wilcoxon"
    p_threshold: float = 0.05
    race_min_clips: int = 6
    trials: int = 20
    metrics: tuple[str, ...] | str = "all"
    seed: int = 0
    device: str = "cpu"
    jobs: int = 1
    finalists: int = 3
    screen: int = 0
    screen_by: str = "hoyer"
    screen_clips: int = 2


@dataclass(frozen=True)
class StudyConfig:
    """Everything one ``tfselect search`` needs besides target, storage and study name."""

    space: SearchSpace = field(default_factory=SearchSpace)
    clips: ClipConfig = field(default_factory=ClipConfig)
    search: SearchSettings = field(default_factory=SearchSettings)
    targets: TargetMap | None = None

    def override(self, **flags: Any) -> StudyConfig:
        """Apply command-line flags (None = not given). Keys: fields of clips or search."""
        clip_kw = {k: v for k, v in flags.items() if v is not None and k in _names(ClipConfig)}
        srch_kw = {k: v for k, v in flags.items() if v is not None and k in _names(SearchSettings)}
        unknown = set(flags) - _names(ClipConfig) - _names(SearchSettings)
        if unknown:
            raise TypeError(f"unknown override {sorted(unknown)}")
        out = replace(
            self, clips=replace(self.clips, **clip_kw), search=replace(self.search, **srch_kw)
        )
        _validate(out)
        return out


def _names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def _typed(table: str, cls, data: dict[str, Any]):
    unknown = sorted(set(data) - _names(cls))
    if unknown:
        raise TfselectError(
            f"{table}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_names(cls)))})"
        )
    kw = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        default = getattr(cls(), f.name)
        if f.name == "metrics":
            if isinstance(value, str):
                value = value if value == "all" else tuple(v.strip() for v in value.split(","))
            elif isinstance(value, list):
                value = tuple(str(v) for v in value)
            else:
                raise TfselectError(f'{table}.metrics: expected "all" or a list of names')
        elif f.name == "max_tracks":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise TfselectError(f"{table}.max_tracks: expected a positive int, got {value!r}")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise TfselectError(f"{table}.{f.name}: expected true or false, got {value!r}")
        elif isinstance(default, float):
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value)):
                raise TfselectError(f"{table}.{f.name}: expected a finite number, got {value!r}")
            value = float(value)
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TfselectError(f"{table}.{f.name}: expected an integer, got {value!r}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise TfselectError(f"{table}.{f.name}: expected a string, got {value!r}")
        kw[f.name] = value
    return cls(**kw)


# Upper bounds: beyond them a value is a typo, not a plan (and would allocate or spawn
# without limit); the command-line options share them.
MAX_CLIPS = 10_000
MAX_TRACKS = 10**6
MAX_JOBS = 1024
MAX_TRIALS = 10**9
MAX_FINALISTS = 1000
MAX_SCREEN = 1000  # proposals screened per trial


def _in(name: str, value: float | None, low: float, high: float) -> None:
    """TfselectError unless ``low <= value <= high`` (None: not set, fine)."""
    if value is not None and (isinstance(value, bool) or not low <= value <= high):
        raise TfselectError(f"{name}: must be in [{low:g}, {high:g}], got {value!r}")


def _validate(cfg: StudyConfig) -> None:
    """Every value in range, the device usable, the objective, sampler and metrics known:
    all checked before a study, a database or a clip exists.

    Raises:
        TfselectError: one line naming the table and key (or the option's value).
    """
    c, s = cfg.clips, cfg.search
    if c.split not in SPLITS:
        raise TfselectError(f"clips.split: unknown split {c.split!r} (use {', '.join(SPLITS)})")
    _in("clips.n_clips", c.n_clips, 1, MAX_CLIPS)
    if not 0 < c.seconds <= MAX_SECONDS:
        raise TfselectError(f"clips.seconds: must be in (0, {MAX_SECONDS:g}], got {c.seconds}")
    _in("clips.max_tracks", c.max_tracks, 1, MAX_TRACKS)
    _in("clips.metric_clips", c.metric_clips, 0, MAX_CLIPS)
    if not 0.0 <= c.confirm < 1.0:
        raise TfselectError(f"clips.confirm: must be in [0, 1), got {c.confirm}")
    _in("clips.confirm_min", c.confirm_min, 2, MAX_TRACKS)
    if s.pruner not in PRUNERS:
        raise TfselectError(f"unknown pruner {s.pruner!r} (use {', '.join(PRUNERS)})")
    if not 0.0 < s.p_threshold < 1.0:
        raise TfselectError(f"search.p_threshold: must be in (0, 1), got {s.p_threshold}")
    _in("search.race_min_clips", s.race_min_clips, 2, MAX_CLIPS)
    _in("search.trials", s.trials, 0, MAX_TRIALS)
    _in("search.jobs", s.jobs, 1, MAX_JOBS)
    _in("search.finalists", s.finalists, 1, MAX_FINALISTS)
    _in("search.seed", s.seed, 0, 2**32 - 1)  # numpy seeds are 32-bit and non-negative
    if s.screen == 1:
        raise TfselectError(f"search.screen: must be 0 (off) or >= 2, got {s.screen}")
    _in("search.screen", s.screen, 0, MAX_SCREEN)
    _in("search.screen_clips", s.screen_clips, 1, MAX_CLIPS)
    _check_names(s)


def _check_names(s: SearchSettings) -> None:
    """The objective, sampler, metrics and device name things that exist (imports torch)."""
    from tfselect.devices import resolve_device  # torch: only when a config is checked

    if s.sampler not in SAMPLERS:
        raise TfselectError(f"search.sampler: unknown sampler {s.sampler!r} "
                            f"(use {', '.join(SAMPLERS)})")
    objectives = parse_objectives(s.objective)
    if s.metrics != "all":
        if not s.metrics:
            raise TfselectError('search.metrics: empty (use "all" or metric names)')
        trial_metrics(s.metrics, objectives)
    resolve_device(s.device)
    if s.screen:
        from tfselect.metrics import METRICS

        if s.screen_by not in METRICS:
            raise TfselectError(f"search.screen_by: unknown metric {s.screen_by!r}")


def load_config(path: str | Path | None = None) -> StudyConfig:
    """Read a study TOML (None: the built-in defaults, identical to studies/default.toml).

    Raises:
        TfselectError: missing/unreadable file, TOML syntax error, unknown key, bad value.
    """
    if path is None:
        cfg = StudyConfig()
        _validate(cfg)
        return cfg
    p = Path(path)
    data = read_toml(p)
    unknown = sorted(set(data) - {"space", "clips", "search", "targets"})
    if unknown:
        raise TfselectError(
            f"config {p}: unknown table [{unknown[0]}] (use space, clips, search, targets)"
        )
    for table in ("space", "clips", "search"):
        if table in data and not isinstance(data[table], dict):
            raise TfselectError(f"config {p}: {table} must be a table")
    cfg = StudyConfig(
        space=SearchSpace.from_dict(data.get("space", {})),
        clips=_typed("clips", ClipConfig, data.get("clips", {})),
        search=_typed("search", SearchSettings, data.get("search", {})),
        targets=TargetMap.from_dict(data["targets"], str(p)) if "targets" in data else None,
    )
    _validate(cfg)
    return cfg
