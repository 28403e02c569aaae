"""``tfselect compare``: demixer configurations trained at an equal budget, scored per track.

A *configuration* is a transform per target (``selected`` from best.csv, ``stft``,
``shared-slicqt``, ``oracle-best-shared`` or the user's own). Every configuration is trained
with the same network family at (nearly) the same number of parameters, the same optimiser,
data order and seeds, and the same step or wall-clock budget; each (configuration, seed) is
one *run*, a ``train-best`` model folder. Each run is then scored on every track of a split:
museval's cSDR (median over 1-s frames), the Music Demixing Challenge's uSDR and SI-SDR per
track and target. The statistics (paired per-track differences against the STFT) live in
:mod:`tfselect.report.compare`.

Layout of ``OUT``::

    plan.json                      what every run trains (written once; reruns must agree)
    runs/<config>/seed-<k>/        a model folder (train-best's layout) and scores.csv
    compare.csv summary.csv transfer.csv compare.png     (tfselect.report.compare)

Runs resume: a rerun skips finished runs (``scores.csv`` present) and resumes a run from its
checkpoint. Several processes or machines sharing ``OUT`` split the runs: each run is
claimed by an exclusive-create lock file before it starts (a lock left by a dead process on
this host is taken over).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import multiprocessing as mp
import os
import re
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.atomic import atomic_write, check_out_dir
from tfselect.audio.dataset import read_segment, resolve_root, track_length, tracks_for
from tfselect.demix.evaluate import _nanmedian, bss_eval
from tfselect.demix.model import (
    MAX_SIZES,
    SHARED_SLICQT,
    STFT_BASELINE,
    block_bins,
    count_parameters,
    matrix_form,
    network_family,
)
from tfselect.demix.model import PRESETS as MODEL_PRESETS
from tfselect.demix.model_files import CHECKPOINT, load_checkpoint, load_model
from tfselect.demix.separate import separate_array
from tfselect.demix.specs import canonical, read_best_csv
from tfselect.demix.train import make_config, train
from tfselect.devices import resolve_device
from tfselect.errors import TfselectError
from tfselect.metrics.sdr import si_sdr, usdr
from tfselect.report import compare as report
from tfselect.transforms import build
from tfselect.transforms.spec import KINDS, TransformSpec

log = logging.getLogger("tfselect.demix")

BASELINE = "stft"
BUILT_IN = ("selected", "stft", "shared-slicqt", "oracle-best-shared")
DEFAULT_CONFIGS = ("selected", "stft", "shared-slicqt")
PARAM_TOLERANCE = 0.05  # configurations' parameter counts agree within 5 % of the baseline's
PLAN = "plan.json"
SCORES = "scores.csv"
CLAIM = ".claim"
SCORE_COLUMNS = ("csdr", "usdr", "si_sdr")
# The size that is tuned per configuration to equalise parameters, per network family.
KNOBS = {"blstm": "hidden", "cdae": "channels", "convnext": "width"}
FAMILIES = tuple(KNOBS)  # what --network may name: one family for every run


@dataclass(frozen=True)
class Preset:
    """Training sizes of one compare preset (model preset, batch, chunk, steps per epoch)."""

    model: str
    network: str
    batch_size: int
    chunk_seconds: float
    steps_per_epoch: int
    valid_seconds: float
    steps: int | None  # default step budget per run (None: --minutes decides)
    minutes: float | None
    device: str


PRESETS = {
    # 2 CPU cores: Open-Unmix's BLSTM at a small width, batch 4 of 2-s chunks, 150 steps
    # (an STFT run takes about 15 min on one core; a rasterized sliCQT branch adds more).
    "cpu": Preset("small", "blstm", 4, 2.0, 50, 4.0, 150, None, "cpu"),
    # One GPU, MUSDB18-HQ: Open-Unmix/X-UMX sizes (hidden 512, 3 BLSTM layers), batch 16 of
    # 6-s chunks, 256 steps per epoch, Adam 1e-3 with ReduceLROnPlateau; 2 h per run.
    "gpu": Preset("large", "blstm", 16, 6.0, 256, 10.0, None, 120.0, "cuda"),
}


@dataclass
class Plan:
    """What every run of a comparison trains (``OUT/plan.json``).

    configs: name -> {target: spec as trained}; sizes: name -> {target: network sizes that
    override the model preset (the tuned knob)}; params: name -> parameter count.
    """

    configs: dict[str, dict[str, str]]
    sizes: dict[str, dict[str, dict[str, int]]]
    params: dict[str, int]
    network: str
    model_preset: str
    seeds: list[int]
    batch_size: int
    chunk_seconds: float
    steps_per_epoch: int
    epochs: int
    max_seconds: float | None
    valid_seconds: float
    root: str | None
    subset: str = "test"
    duration: float | None = None
    oracle: dict[str, dict] = field(default_factory=dict)  # best.csv values, for transfer
    match: str = "params"  # what is equal between branches: "params" or "width"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @property
    def budget(self) -> str:
        if self.max_seconds is not None:
            return f"{self.max_seconds / 60:g} min of training per run"
        return f"{self.epochs * self.steps_per_epoch} steps per run"


# ------------------------------------------------------------------ configurations


def parse_user_config(item: str) -> tuple[str, dict[str, str]]:
    """``NAME=SPEC`` (every target) or ``NAME=TARGET:SPEC,TARGET:SPEC,...`` -> (name, specs).

    Specs hold commas themselves (``stft:n_fft=4096,hop=1024``), so a new target starts at a
    comma followed by ``word:kind:`` where kind is a transform kind (stft, slicqt, ...).
    """

    name, sep, rest = item.partition("=")
    name = name.strip()
    if not sep or not rest.strip() or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise TfselectError(f"--config-spec must look like NAME=SPEC or NAME=TARGET:SPEC,..., "
                            f"with NAME of letters, digits, '.', '_' or '-'; got {item!r}")
    if name in BUILT_IN:
        raise TfselectError(f"--config-spec: {name!r} is a built-in configuration's name")
    kinds = "|".join(map(re.escape, KINDS))
    if re.match(rf"\s*({kinds}):", rest):
        return name, {t: rest.strip() for t in TARGETS}
    parts = re.split(rf",(?=\s*[A-Za-z0-9_.-]+:(?:{kinds}):)", rest)
    specs = {}
    for part in parts:
        target, colon, spec = part.partition(":")
        if not colon or not spec.strip() or not target.strip():
            raise TfselectError(f"--config-spec {name}: expected TARGET:SPEC, got {part!r}")
        specs[target.strip()] = spec.strip()
    return name, specs


def oracle_best_shared(best_rows: pd.DataFrame) -> str:
    """The one transform with the best mean objective over every target of best.csv.

    Candidates are the specs best.csv scores for *every* target (its best and reference
    rows; in practice the references, which every study races), on each target's first
    objective; the objective must be maximised (an oracle SDR such as ``mpi``).
    """
    rows = best_rows.dropna(subset=["value"])
    first = rows.groupby("target", sort=False)["objective"].first()
    rows = rows[rows["objective"] == rows["target"].map(first)]
    targets = rows["target"].nunique()
    per_spec = rows.groupby("spec")["value"].agg(["mean", "count"])
    per_spec = per_spec[per_spec["count"] >= targets]
    if per_spec.empty:
        raise TfselectError("oracle-best-shared: no transform of best.csv is scored on every "
                            "target")
    return str(per_spec["mean"].idxmax())


def build_configs(names: Sequence[str], user: Mapping[str, dict[str, str]],
                  best_csv: Path | None, select: str, network: str) -> dict[str, dict[str, str]]:
    """name -> {target: spec as trained} for the built-in ``names`` and the ``user`` ones.

    The targets are best.csv's when it is read (else MUSDB's four); every configuration
    covers exactly those targets.
    """

    unknown = [n for n in names if n not in BUILT_IN]
    if unknown:
        raise TfselectError(f"--configs: unknown configuration {unknown[0]!r} (built-in: "
                            f"{', '.join(BUILT_IN)}; give your own with --config-spec)")
    needs_best = {"selected", "oracle-best-shared"} & set(names)
    selected: dict[str, str] = {}
    rows = None
    if best_csv is not None:
        selected = read_best_csv(best_csv, select)
        rows = pd.read_csv(best_csv)
    elif needs_best:
        raise TfselectError(f"--configs {sorted(needs_best)[0]} needs --best best.csv (from "
                            "`tfselect report`)")
    targets = list(selected) or list(TARGETS)
    out: dict[str, dict[str, str]] = {}
    for name in names:
        if name == "selected":
            specs = dict(selected)
        elif name == "stft":
            specs = dict.fromkeys(targets, STFT_BASELINE)
        elif name == "shared-slicqt":
            specs = dict.fromkeys(targets, SHARED_SLICQT)
        else:
            specs = dict.fromkeys(targets, oracle_best_shared(rows))
        out[name] = specs
    for name, specs in user.items():
        missing = [t for t in targets if t not in specs]
        extra = [t for t in specs if t not in targets]
        if missing or extra:
            raise TfselectError(f"--config-spec {name}: needs exactly the targets "
                                f"{', '.join(targets)}")
        out[name] = dict(specs)
    if BASELINE not in out:
        raise TfselectError("the comparison needs the stft configuration (the baseline every "
                            "other one is compared with); add it to --configs")
    return {n: {t: matrix_form(canonical(s), network) for t, s in specs.items()}
            for n, specs in out.items()}


# ------------------------------------------------------------------ equal parameters


def matched_size(family: str, bins: list[int], base: dict[str, int], target: int,
                 channels: int = 2) -> int:
    """The value of the family's knob (``KNOBS``) whose parameter count is nearest to
    ``target``: bisection on the count, which grows with the knob."""
    knob = KNOBS[family]
    step = 2 if knob == "hidden" else 1  # a BLSTM's hidden width is split in two halves

    def count(v: int) -> int:
        return count_parameters(family, bins, {**base, knob: v}, channels)

    lo, hi = 1, 1
    while count(hi * step) < target and 2 * hi * step <= MAX_SIZES[knob]:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # the smallest v with count(v·step) >= target lies in (lo, hi]
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid * step) < target else (lo, mid)
    return min((hi * step, lo * step), key=lambda v: abs(count(v) - target))


def equal_sizes(configs: Mapping[str, dict[str, str]], network: str, model_preset: str,
                channels: int = 2, sample_rate: int = 44100, match: str = "params"
                ) -> tuple[dict[str, dict[str, dict[str, int]]], dict[str, int]]:
    """Per configuration and target, the network size that gives that branch the parameter
    count of the baseline's branch of the same target at the preset size.

    Matching per branch (not per model) keeps a target whose transform is the baseline's
    exactly the baseline's network. One knob per family (BLSTM hidden width, CDAE channels,
    ConvNeXt width) is tuned; the other sizes stay the preset's. Returns ({config: {target:
    sizes override}}, {config: parameter count of the networks}). ``match="width"`` keeps
    the preset's width everywhere instead (equal network cores; a BLSTM's parameters then
    grow with its transform's bins). A branch that cannot get
    within ``PARAM_TOLERANCE`` (integer widths) is logged.
    """

    base = dict(MODEL_PRESETS[model_preset])
    cache: dict[str, tuple[str, list[int]]] = {}

    def family_bins(spec: str) -> tuple[str, list[int]]:
        if spec.startswith("ens:"):  # canonical specs: one branch per member, maybe mixed
            raise TfselectError(f"{spec}: compare cannot match an ensemble target's networks "
                                "to the baseline's parameter count; give that target one "
                                "transform (train-best takes ensembles)")
        if spec not in cache:
            parsed = TransformSpec.parse(spec)  # configurations are text (plan.json)
            bins = block_bins(build(parsed, sample_rate), channels, sample_rate)
            cache[spec] = (network_family(network, parsed, bins), bins)
        return cache[spec]

    sizes: dict[str, dict[str, dict[str, int]]] = {}
    params: dict[str, int] = {}
    for name, specs in configs.items():
        sizes[name], params[name] = {}, 0
        for t, spec in specs.items():
            family, bins = family_bins(spec)
            goal = count_parameters(*family_bins(configs[BASELINE][t]), base, channels)
            knob = KNOBS[family]
            value = base[knob] if spec == configs[BASELINE][t] or match == "width" else (
                matched_size(family, bins, base, goal, channels))
            sizes[name][t] = {knob: int(value)}
            n = count_parameters(family, bins, {**base, knob: value}, channels)
            params[name] += n
            if match == "params" and abs(n - goal) > PARAM_TOLERANCE * goal:
                log.warning("configuration %s, %s: %d parameters, %.0f %% off the baseline's "
                            "%d (the nearest %s)", name, t, n, 100 * abs(n - goal) / goal,
                            goal, knob)
    return sizes, params


# ------------------------------------------------------------------ runs


def make_plan(configs: dict[str, dict[str, str]], preset: str, seeds: Sequence[int],
              steps: int | None, minutes: float | None, root: Path | None,
              network: str | None = None, subset: str = "test", duration: float | None = None,
              oracle: dict | None = None, batch_size: int | None = None,
              chunk_seconds: float | None = None, match: str = "params") -> Plan:
    """The plan of a comparison: sizes equalised, the budget turned into epochs or seconds."""
    if preset not in PRESETS:
        raise TfselectError(f"--preset must be {' or '.join(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    network = network or p.network
    if steps is not None and minutes is not None:
        raise TfselectError("give --steps or --minutes, not both")
    if steps is None and minutes is None:
        steps, minutes = p.steps, p.minutes
    if match not in ("params", "width"):
        raise TfselectError(f"--match must be params or width, got {match!r}")
    sizes, params = equal_sizes(configs, network, p.model, match=match)
    if steps is not None:
        per_epoch = min(p.steps_per_epoch, steps)
        epochs, max_seconds = math.ceil(steps / per_epoch), None
    else:
        per_epoch, epochs, max_seconds = p.steps_per_epoch, 1_000_000, float(minutes) * 60
    return Plan(configs=configs, sizes=sizes, params=params, network=network,
                model_preset=p.model, seeds=list(seeds), batch_size=batch_size or p.batch_size,
                chunk_seconds=chunk_seconds or p.chunk_seconds, steps_per_epoch=per_epoch,
                epochs=epochs, max_seconds=max_seconds, valid_seconds=p.valid_seconds,
                root=str(root) if root else None, subset=subset, duration=duration,
                oracle=oracle or {}, match=match)


def check_plan(out: Path, plan: Plan) -> Plan:
    """Write ``OUT/plan.json`` or check a rerun against it.

    A rerun may add configurations and seeds; everything that defines an existing run must
    be the same. Returns the plan to run (the stored one, widened).
    """
    path = out / PLAN
    if not path.exists():
        atomic_write(path, lambda p: p.write_text(plan.to_json()))
        return plan
    try:
        old = Plan(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise TfselectError(f"{path}: not a comparison plan ({exc})") from None
    fixed = ("network", "model_preset", "batch_size", "chunk_seconds", "steps_per_epoch",
             "epochs", "max_seconds", "valid_seconds", "subset", "duration", "match")
    diff = [k for k in fixed if getattr(old, k) != getattr(plan, k)]
    diff += [f"configuration {n}" for n in old.configs
             if n in plan.configs and (old.configs[n], old.sizes[n])
             != (plan.configs[n], plan.sizes[n])]  # fmt: skip
    if diff:
        raise TfselectError(f"{out} holds a comparison made with other options (differs in: "
                            f"{', '.join(diff)}); use another --out or the same options")
    merged = dataclasses.replace(
        old, configs={**old.configs, **plan.configs}, sizes={**old.sizes, **plan.sizes},
        params={**old.params, **plan.params},
        seeds=sorted(set(old.seeds) | set(plan.seeds)), root=plan.root or old.root,
        oracle=plan.oracle or old.oracle)
    atomic_write(path, lambda p: p.write_text(merged.to_json()))
    return merged


def run_dir(out: Path, config: str, seed: int) -> Path:
    return Path(out) / "runs" / config / f"seed-{seed}"


def claim(folder: Path) -> bool:
    """Take the run in ``folder`` for this process (exclusive create of its lock file).

    False when a live process holds it. A lock of a process of this host that no longer runs
    is taken over (a killed run resumes from its checkpoint).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / CLAIM
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                host, pid = lock.read_text().split()
            except (OSError, ValueError):
                return False  # being written by its owner this instant
            if host != socket.gethostname() or _alive(int(pid)):
                return False
            lock.unlink(missing_ok=True)  # its process died: take it over
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        return True
    return False


def release(folder: Path) -> None:
    (folder / CLAIM).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def train_config(plan: Plan, config: str, seed: int):
    """The TrainConfig of one run: early stopping off (every run spends the whole budget;
    the weights kept are those of the best validation loss, as in train-best)."""

    return make_config(plan.configs[config], plan.model_preset, plan.network, config,
                       target_sizes=plan.sizes[config], epochs=plan.epochs, patience=plan.epochs,
                       steps=plan.steps_per_epoch, batch_size=plan.batch_size,
                       chunk_seconds=plan.chunk_seconds, valid_seconds=plan.valid_seconds,
                       seed=seed, root=plan.root, max_seconds=plan.max_seconds)


def score_model(model_dir: Path, root: str | None, subset: str, duration: float | None,
                progress: bool = False) -> pd.DataFrame:
    """Per track and target of ``subset``: cSDR (museval v4, median over 1-s frames), uSDR
    and SI-SDR, all in dB. Columns: track, target, csdr, usdr, si_sdr.

    cSDR is NaN where museval cannot score (a silent reference or estimate); uSDR is defined
    everywhere; SI-SDR is NaN for a silent reference.
    """
    model = load_model(model_dir)
    tracks = tracks_for(resolve_root(Path(root) if root else None), subset)
    if not tracks:
        raise TfselectError(f"no {subset} tracks to score on")
    targets = list(model.targets)
    rows = []
    for track in tqdm(tracks, desc=f"score {model_dir}", disable=not progress, unit="track",
                      leave=False):
        n = track_length(track)
        if duration is not None:
            n = min(n, int(round(duration * SAMPLE_RATE)))
        audio = read_segment(track, ("mixture", *targets), 0, n)
        est = separate_array(model, audio["mixture"])
        ref = np.stack([audio[t] for t in targets])
        frames = bss_eval(ref, est)["SDR"]
        for j, t in enumerate(targets):
            rows.append({"track": track.name, "target": t, "csdr": _nanmedian(frames[j]),
                         "usdr": usdr(ref[j], est[j]), "si_sdr": si_sdr(ref[j], est[j])})
    return pd.DataFrame(rows)


def run_one(plan: Plan, out: Path, config: str, seed: int, device: str = "cpu",
            progress: bool = False) -> dict:
    """Train (or resume) and score one run; returns its record (steps, seconds, params).

    The run's ``scores.csv`` is written last, atomically: its presence means done.
    """

    folder = run_dir(out, config, seed)
    history = train(train_config(plan, config, seed), folder, device=device, progress=progress)
    state = load_checkpoint(folder / CHECKPOINT)["state"]
    scores = score_model(folder, plan.root, plan.subset, plan.duration, progress)
    scores.insert(0, "seed", seed)
    scores.insert(0, "config", config)
    scores["steps"] = int(state.get("steps", 0))
    scores["train_seconds"] = float(state.get("train_seconds", 0.0))
    scores["epochs"] = len(history)
    scores["params"] = plan.params[config]
    atomic_write(folder / SCORES, lambda p: scores.to_csv(p, index=False))
    return {"config": config, "seed": seed, "steps": int(state.get("steps", 0))}


def pending_runs(plan: Plan, out: Path) -> list[tuple[str, int]]:
    """(config, seed) of every run without scores, seeds outermost so that an interrupted
    comparison has every configuration at the first seeds."""
    return [(c, s) for s in plan.seeds for c in plan.configs
            if not (run_dir(out, c, s) / SCORES).exists()]


def _worker(plan_json: str, out: str, device: str, threads: int) -> list[dict]:
    """One process of ``--jobs``: claim and run pending runs until none is left."""
    torch.set_num_threads(threads)
    plan = Plan(**json.loads(plan_json))
    return run_pending(plan, Path(out), device, progress=False)


def run_pending(plan: Plan, out: Path, device: str = "cpu", progress: bool = True,
                on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every pending run this process can claim; returns their records."""
    done = []
    for config, seed in pending_runs(plan, out):
        folder = run_dir(out, config, seed)
        if not claim(folder):
            continue
        try:
            if (folder / SCORES).exists():  # finished by another process meanwhile
                continue
            t0 = time.perf_counter()
            record = run_one(plan, out, config, seed, device, progress)
            record["seconds"] = time.perf_counter() - t0
            done.append(record)
            if on_done is not None:
                on_done(record)
        finally:
            release(folder)
    return done


def run_all(plan: Plan, out: Path, jobs: int = 1, device: str = "cpu", progress: bool = True,
            on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Every pending run, in this process (``jobs`` 1) or in ``jobs`` processes that share
    the cores (torch threads per process = cores // jobs)."""
    if jobs <= 1:
        return run_pending(plan, out, device, progress, on_done)

    threads = max(1, (os.cpu_count() or 1) // jobs)
    records: list[dict] = []
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, plan.to_json(), str(out), device, threads)
                   for _ in range(jobs)]
        for f in futures:
            for record in f.result():
                records.append(record)
                if on_done is not None:
                    on_done(record)
    return records


def collect(plan: Plan, out: Path) -> pd.DataFrame:
    """``compare.csv``: every finished run's scores, one row per config × seed × track ×
    target (columns: config, seed, track, target, csdr, usdr, si_sdr, steps,
    train_seconds, epochs, params)."""
    frames = [pd.read_csv(run_dir(out, c, s) / SCORES) for s in plan.seeds
              for c in plan.configs if (run_dir(out, c, s) / SCORES).exists()]
    if not frames:
        return pd.DataFrame(columns=["config", "seed", "track", "target", *SCORE_COLUMNS])
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ the whole command


@dataclass
class CompareResult:
    """What a comparison wrote and found: the plan, every finished run's scores
    (``compare.csv``), the paired summary, the oracle-to-training transfer, the files, and
    the runs still missing (held by another process, or a failure)."""

    plan: Plan
    rows: pd.DataFrame
    summary: pd.DataFrame
    transfer: pd.DataFrame
    files: list[Path]
    missing: list[tuple[str, int]]


def compare(out: Path, configs: Sequence[str] = DEFAULT_CONFIGS,
            user: Mapping[str, dict[str, str]] | None = None, best: Path | None = None,
            select: str = "significant", preset: str = "cpu", seeds: int = 3,
            steps: int | None = None, minutes: float | None = None, root: Path | None = None,
            network: str | None = None, jobs: int = 1, device: str | None = None,
            subset: str = "test", duration: float | None = None, n_boot: int = 2000,
            progress: bool = True, batch_size: int | None = None,
            chunk_seconds: float | None = None, match: str = "params",
            on_done: Callable[[dict], None] | None = None) -> CompareResult:
    """Train every configuration × seed at an equal budget, score them on ``subset`` and
    write the comparison to ``out`` (layout in the module docstring). Resumes; see
    :func:`run_all` for ``jobs``."""

    if not 1 <= seeds <= 100:
        raise TfselectError(f"--seeds must be 1 to 100, got {seeds}")
    if steps is not None and not 1 <= steps <= 10_000_000:
        raise TfselectError(f"--steps must be 1 to 10000000, got {steps}")
    if minutes is not None and not 0 < minutes <= 100_000:
        raise TfselectError(f"--minutes must be in (0, 100000], got {minutes:g}")
    if not 1 <= jobs <= 64:
        raise TfselectError(f"--jobs must be 1 to 64, got {jobs}")
    from tfselect.demix.evaluate import check_duration

    check_duration(duration)
    if preset not in PRESETS:
        raise TfselectError(f"--preset must be {' or '.join(PRESETS)}, got {preset!r}")
    if steps is not None and minutes is not None:
        raise TfselectError("give --steps or --minutes, not both")
    if match not in ("params", "width"):
        raise TfselectError(f"--match must be params or width, got {match!r}")

    device = device or PRESETS[preset].device
    resolve_device(device)
    net = network or PRESETS[preset].network
    if net not in FAMILIES:  # one family for every run: per-target networks are train-best's
        per_target = " (per-target networks are train-best's)" if "=" in net else ""
        raise TfselectError(f"--network must be {', '.join(FAMILIES[:-1])} or {FAMILIES[-1]}, "
                            f"got {net!r}{per_target}")
    specs = build_configs(list(configs), dict(user or {}), best, select, net)
    data_root = resolve_root(root)
    oracle = report.oracle_gains(best, specs) if best is not None else {}
    plan = make_plan(specs, preset, range(seeds), steps, minutes, data_root, network, subset,
                     duration, oracle, batch_size, chunk_seconds, match)
    check_out_dir(out)
    plan = check_plan(Path(out), plan)
    run_all(plan, Path(out), jobs, device, progress, on_done)
    rows = collect(plan, Path(out))
    missing = pending_runs(plan, Path(out))
    files = [Path(out) / "compare.csv"]
    atomic_write(files[0], lambda p: rows.to_csv(p, index=False, float_format="%.4f"))
    summary = report.summarise(rows, BASELINE, n_boot) if len(rows) else pd.DataFrame()
    transfer = pd.DataFrame()
    if len(summary):
        transfer = report.transfer(summary, plan.oracle)
        for name, frame in (("summary.csv", summary), ("transfer.csv", transfer)):
            atomic_write(Path(out) / name,
                         lambda p, f=frame: f.to_csv(p, index=False, float_format="%.4g"))
            files.append(Path(out) / name)
        report.plot(summary, Path(out) / "compare.png")
        files.append(Path(out) / "compare.png")
    return CompareResult(plan, rows, summary, transfer, files, missing)
