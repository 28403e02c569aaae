"""The demixer's trainer: Adam, ReduceLROnPlateau, early stopping, exact resume, DDP, AMP.

It writes a model folder (layout in ``model_files``): the checkpoint after every epoch,
written atomically (temporary file + fsync + rename), so a ``kill -9`` at any moment leaves the
previous complete checkpoint; re-running the same command resumes from it and, seeded,
produces exactly the losses an uninterrupted run would have.

Several processes: launch with ``torchrun --nproc_per_node N -m tfselect train-best ...``;
each rank computes its slice of the global batch and DDP averages the gradients (gloo on
CPU, NCCL on CUDA). Only rank 0 writes files.
"""

from __future__ import annotations

import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from tqdm import tqdm

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.atomic import atomic_write, check_out_dir
from tfselect.audio.dataset import resolve_root, tracks_for
from tfselect.audio.targets import TargetMap, covers_mixture
from tfselect.demix.data import TrackAudio, TrainingSet, validation_examples
from tfselect.demix.losses import DemixLoss, LossConfig
from tfselect.demix.model import Demixer, ModelConfig, branch_key, split_networks
from tfselect.demix.model_files import (
    CHECKPOINT,
    LOG,
    LOSSES,
    MODEL,
    UNSAFE,
    CheckpointError,
    load_checkpoint,
    load_weights,
)
from tfselect.demix.presets import TRAIN_PRESETS
from tfselect.demix.tensorfile import first_line, save_state
from tfselect.devices import rank_device
from tfselect.errors import TfselectError

log = logging.getLogger("tfselect.demix")


# Fields that may change between a run and its resumption; all others must match.
RESUMABLE_CHANGES = ("epochs", "patience", "root", "max_seconds")


# (field, low, high) of TrainConfig: beyond them a value is a typo, not a plan; the lower
# bounds of lengths keep every chunk longer than a transform's shortest input.
MIN_CHUNK_SECONDS = 0.1
TRAIN_RANGES = (
    ("epochs", 0, 1_000_000), ("batch_size", 1, 4096),  # compare --minutes: 10**6 epochs
    ("chunk_seconds", MIN_CHUNK_SECONDS, 600), ("steps", 1, 1_000_000),
    ("valid_seconds", MIN_CHUNK_SECONDS, 3600), ("lr", 1e-9, 10), ("weight_decay", 0, 1),
    ("lr_factor", 1e-6, 1), ("lr_patience", 0, 100_000), ("patience", 1, 100_000),
    ("seed", 0, 2**32 - 1), ("max_seconds", 0, 10**9),
)


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint).

    Sizes: ``batch_size`` is the *global* batch (split across DDP ranks); ``chunk_seconds``
    the length of one training example; ``steps`` optimizer steps per epoch.
    """

    model: dict
    loss: dict = field(default_factory=lambda: asdict(LossConfig()))
    epochs: int = 10
    batch_size: int = 4
    chunk_seconds: float = 6.0
    steps: int = 64
    valid_seconds: float | None = 10.0
    lr: float = 1e-3
    weight_decay: float = 1e-5
    lr_factor: float = 0.3
    lr_patience: int = 10
    patience: int = 30
    seed: int = 42
    augment: bool = True
    mix_tracks: bool = True
    fixed: bool = False
    amp: bool = True
    baseline: str | None = None
    root: str | None = None
    targets: dict | None = None  # target map {target: [stems]} applied to the corpus
    # Wall-clock budget: training stops once its steps have taken this many seconds in all
    # (summed over resumptions; validation and checkpoints not counted). None: epochs decide.
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        """Every value in range before a folder, a log or a network exists.

        Raises:
            TfselectError: one line naming the field, its value and the range.
        """
        for name, low, high in TRAIN_RANGES:
            value = getattr(self, name)
            if value is None and name in ("valid_seconds", "max_seconds"):
                continue
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not low <= value <= high):  # NaN fails both comparisons
                raise TfselectError(f"training {name} must be in [{low:g}, {high:g}], "
                                    f"got {value!r}")
        if not isinstance(self.model, dict):
            raise TfselectError(f"training model must be a mapping, got {self.model!r}")

    def comparable(self) -> dict:
        d = asdict(self)
        for k in RESUMABLE_CHANGES:
            d.pop(k)
        # one network for all is stored without target_networks, as before they existed:
        # a checkpoint written then resumes
        if not d["model"].get("target_networks", True):
            d["model"] = {k: v for k, v in d["model"].items() if k != "target_networks"}
        return d


def _atomic_save(obj: dict, path: Path) -> None:
    save_state(obj, path)


def _rng_state() -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def _set_rng_state(s: dict) -> None:
    torch.set_rng_state(s["torch"])
    if s["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])
    np.random.set_state(s["numpy"])
    random.setstate(s["python"])


# What resuming reads from a checkpoint besides its weights, and the type of each part.
RESUME_PARTS = {"train_config": dict, "optimizer": dict, "scheduler": dict, "rng": dict,
                "state": dict}
RESUME_STATE = {"epoch": int, "best": float | int, "bad_epochs": int, "history": list}


def _check_resume(ck: dict, path: Path) -> None:
    """CheckpointError (one line naming the field) unless ``ck`` holds every part resuming
    reads, each of its type: a checkpoint truncated by hand or made elsewhere would otherwise
    stop with a KeyError traceback halfway through restoring the state."""

    def check(holder: dict, key: str, kind: type, name: str) -> None:
        if key not in holder:
            raise CheckpointError(f"{path} has no {name} to resume from")
        if not isinstance(holder[key], kind) or isinstance(holder[key], bool):
            raise CheckpointError(f"{path}: {name} is a {type(holder[key]).__name__}, not a "
                                  f"{getattr(kind, '__name__', 'number')}")

    for key, kind in RESUME_PARTS.items():
        check(ck, key, kind, key)
    for key, kind in RESUME_STATE.items():
        check(ck["state"], key, kind, f"state.{key}")
    if min(ck["state"]["epoch"], ck["state"]["bad_epochs"]) < 0:
        raise CheckpointError(f"{path}: state.epoch and state.bad_epochs must be >= 0")


def _restore(part: str, path: Path, restore: Callable[[], object]) -> None:
    """``restore()``, with torch's or numpy's error about malformed contents as one line."""
    try:
        restore()
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: cannot restore {part} ({first_line(exc)})") from None


def _write_losses(path: Path, history: list[dict]) -> None:
    atomic_write(path, lambda tmp: pd.DataFrame(history).to_csv(tmp, index=False,
                                                                float_format="%.10g"))


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size())


def _splits(root: str | None, seed: int, target_map: dict | None = None):
    r = resolve_root(Path(root) if root else None)
    tmap = TargetMap.from_dict(target_map, "the target map") if target_map else None
    train = tracks_for(r, "train", seed=seed, target_map=tmap)
    valid = tracks_for(r, "valid", seed=seed, target_map=tmap)
    if not train:
        raise TfselectError(f"no training tracks under {r}")
    return train, valid


def _check_targets(targets, tracks) -> bool:
    """Raise unless every model target is one of the corpus's; return whether a residual
    (mixture - targets) is needed because the targets do not cover the mixtures."""

    have = tracks[0].targets
    missing = [t for t in targets if t not in have]
    if missing:
        raise TfselectError(
            f"unknown target '{missing[0]}': the training data has {', '.join(have)}"
        )
    return not all(covers_mixture(t, targets) for t in tracks)


def train(config: TrainConfig, out: Path, device: str = "cpu", progress: bool = True,
          data: tuple | None = None) -> list[dict]:
    """Train (or resume) into ``out``; return the loss history (one dict per epoch).

    ``data`` = (train_tracks, valid_tracks) overrides the corpus given by ``config.root``.
    A refusal (TfselectError) before the first checkpoint of a new ``out`` removes the
    folder and its train.log again: a refused command leaves nothing behind.
    """
    out = Path(out)
    fresh = not os.path.lexists(out)
    try:
        return _train(config, out, device, progress, data)
    except TfselectError:
        if fresh:
            _remove_fresh(out)
        raise


def _remove_fresh(out: Path) -> None:
    """Remove ``out`` if it holds nothing but this run's train.log (no checkpoint)."""
    for h in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:
        if Path(h.baseFilename).parent == out.resolve():
            log.removeHandler(h)
            h.close()
    try:
        if {p.name for p in out.iterdir()} <= {LOG}:
            (out / LOG).unlink(missing_ok=True)
            out.rmdir()
    except OSError:  # not ours to clean after all (gone, or something else appeared)
        pass


def _train(config: TrainConfig, out: Path, device: str, progress: bool,
           data: tuple | None) -> list[dict]:
    dev = rank_device(device)
    dist_info = _init_distributed(dev)
    if config.batch_size % dist_info.world:
        raise TfselectError(
            f"batch size {config.batch_size} is not divisible by {dist_info.world} processes"
        )
    if dist_info.main:
        check_out_dir(out)
        _setup_log(out)
    ck_path = out / CHECKPOINT
    old_pickles = [name for name in UNSAFE if (out / name).exists()]
    if old_pickles and not ck_path.exists():
        raise CheckpointError(
            f"{out / old_pickles[0]} is a pickle file of an earlier tfselect (not loaded: a "
            "pickle can run code); train into a new --out"
        )
    resume = load_checkpoint(ck_path) if ck_path.exists() else None
    if resume is not None:
        _check_resume(resume, ck_path)
        try:
            old = TrainConfig(**resume["train_config"])
        except TypeError as exc:
            raise CheckpointError(f"{ck_path}: unusable training configuration ({exc})") from None
        if old.comparable() != config.comparable():
            diff = sorted(k for k, v in config.comparable().items() if old.comparable()[k] != v)
            raise CheckpointError(
                f"{ck_path} was trained with another configuration (differs in: "
                f"{', '.join(diff)}); use another --out or the same options"
            )

    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model_cfg = ModelConfig(**config.model)
    model = Demixer(model_cfg).to(dev)
    model.set_amp(config.amp and dev.type == "cuda")
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=config.lr_factor, patience=config.lr_patience
    )
    loss_fn = DemixLoss(LossConfig(**config.loss), len(model.targets), config.seed).to(dev)
    state = {"epoch": 0, "best": math.inf, "bad_epochs": 0, "history": [], "steps": 0,
             "train_seconds": 0.0}
    if resume is None and model_cfg.deoverlap:
        model.load_deoverlap()  # frozen pre-trained weights; from now on in every checkpoint
    if resume is not None:
        load_weights(model, resume["state_dict"], ck_path)
        _restore("optimizer", ck_path, lambda: opt.load_state_dict(resume["optimizer"]))
        _restore("scheduler", ck_path, lambda: sched.load_state_dict(resume["scheduler"]))
        _restore("rng", ck_path, lambda: _set_rng_state(resume["rng"]))
        state = {"steps": 0, "train_seconds": 0.0, **resume["state"]}
        log.info("resumed from %s after epoch %d", ck_path, state["epoch"])
    net = model
    if dist_info.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    train_tracks, valid_tracks = (data if data is not None
                                  else _splits(config.root, config.seed, config.targets))
    model_cfg.residual = _check_targets(model.targets, train_tracks)
    preload = len(train_tracks) + len(valid_tracks) <= 20  # small corpora: keep in RAM
    train_audio = TrackAudio(train_tracks, preload, model.targets)
    longest = max(train_audio.lengths, default=0)
    if config.chunk_seconds * SAMPLE_RATE > longest:
        # Every example would be mostly zero padding; refuse before allocating batches.
        raise TfselectError(f"--chunk {config.chunk_seconds:g} s is longer than every training "
                            f"track (the longest has {longest / SAMPLE_RATE:.1f} s)")
    trainset = TrainingSet(train_audio, config.chunk_seconds, config.seed, model.targets,
                           config.mix_tracks, config.augment, config.fixed,
                           residual=model_cfg.residual)  # fmt: skip
    valid = validation_examples(TrackAudio(valid_tracks, preload, model.targets),
                                config.valid_seconds, model.targets,
                                model_cfg.residual) if valid_tracks else []  # fmt: skip
    local = config.batch_size // dist_info.world
    if dist_info.main:
        log.info("model: %s", {t: str(s) for t, s in model_cfg.specs.items()})
        log.info("networks: %s", {t: model.branches[branch_key(t)].family
                                  for t in model.targets})
        log.info("parameters: %d; device %s; processes %d",
                 sum(p.numel() for p in model.parameters()), dev, dist_info.world)

    # One bar over every step still to run, so its ETA is the training's, not an epoch's.
    bar = tqdm(total=max(config.epochs - state["epoch"], 0) * config.steps, leave=False,
               disable=not (progress and dist_info.main), unit="step")
    while (state["epoch"] < config.epochs and state["bad_epochs"] < config.patience
           and not _out_of_time(config, state)):
        epoch = state["epoch"]
        t0 = time.perf_counter()
        model.train()
        sums = np.zeros(4)  # loss, freq, time, masksum
        bar.set_description(f"epoch {epoch + 1}/{config.epochs}")
        done = 0
        for step in range(config.steps):
            if step and _out_of_time(config, state, time.perf_counter() - t0):
                break  # the budget ends inside this epoch: validate what was trained
            first = step * config.batch_size + dist_info.rank * local
            mix, tgt = trainset.batch(epoch, range(first, first + local))
            mix, tgt = mix.to(dev), tgt.to(dev)
            loss, parts = loss_fn(net(mix), tgt, mix, step=epoch * config.steps + step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += [float(loss.detach()), parts["freq"], parts["time"], parts["masksum"]]
            done += 1
            bar.update(1)
            bar.set_postfix(loss=f"{sums[0] / done:.4f}")
        sums /= max(done, 1)
        state["steps"] += done
        state["train_seconds"] += time.perf_counter() - t0
        if dist_info.world > 1:  # report the global mean (each rank saw its own examples)
            t = torch.tensor(sums, dtype=torch.float64)
            torch.distributed.all_reduce(t)
            sums = (t / dist_info.world).numpy()
        valid_loss = _validate(model, loss_fn, valid, dev) if valid else float(sums[0])
        sched.step(valid_loss)
        improved = valid_loss < state["best"]
        state["best"] = min(state["best"], valid_loss)
        state["bad_epochs"] = 0 if improved else state["bad_epochs"] + 1
        state["epoch"] = epoch + 1
        row = {"epoch": epoch + 1, "train_loss": sums[0], "train_freq": sums[1],
               "train_time": sums[2], "train_masksum": sums[3], "valid_loss": valid_loss,
               "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0}
        state["history"].append({k: float(v) for k, v in row.items()})
        if dist_info.main:
            log.info("epoch %d: train %.5f valid %.5f lr %.2e (%.1fs)%s", epoch + 1, sums[0],
                     valid_loss, row["lr"], row["seconds"], " *" if improved else "")
            if improved:
                _atomic_save({"model_config": model_cfg.to_dict(), "state_dict":
                              model.state_dict(), "train_config": asdict(config),
                              "epoch": epoch + 1, "valid_loss": valid_loss}, out / MODEL)
            _atomic_save({
                "model_config": model_cfg.to_dict(), "train_config": asdict(config),
                "state_dict": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "rng": _rng_state(), "state": state,
            }, ck_path)
            _write_losses(out / LOSSES, state["history"])
    bar.close()
    if state["bad_epochs"] >= config.patience and dist_info.main:
        log.info("early stop: no validation improvement in %d epochs", config.patience)
    if dist_info.world > 1:
        torch.distributed.barrier()
    return state["history"]


@torch.no_grad()
def _validate(model: Demixer, loss_fn: DemixLoss, valid: list, dev: torch.device) -> float:
    model.eval()
    total = 0.0
    for mix, tgt in valid:
        mix, tgt = mix.to(dev), tgt.to(dev)
        total += float(loss_fn(model(mix), tgt, mix)[0])
    model.train()
    return total / len(valid)


def _out_of_time(config: TrainConfig, state: dict, running: float = 0.0) -> bool:
    """Whether the wall-clock budget is spent (``running``: seconds of the current epoch).

    Under DDP every rank must stop at the same step, so rank 0's clock decides for all.
    """
    if config.max_seconds is None:
        return False
    spent = state["train_seconds"] + running >= config.max_seconds
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        flag = torch.tensor([float(spent)])
        torch.distributed.broadcast(flag, 0)
        spent = bool(flag.item())
    return spent


class _LogFile(logging.FileHandler):
    """train.log, where a full disk stops training with one line (logging's own handler
    prints a traceback for every line it cannot write, and carries on)."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        from tfselect.diskerrors import disk_words

        exc = sys.exc_info()[1]
        if exc is not None and (found := disk_words(exc)) is not None:
            raise TfselectError(f"cannot write {self.baseFilename}: {found[0]}") from None
        super().handleError(record)


def _setup_log(out: Path) -> None:
    """Log to ``out``'s train.log, and to no other model folder's: a process that trains
    several models in turn (``compare``) writes each one's lines to its own log only."""
    path = str((out / LOG).resolve())
    for h in [h for h in log.handlers if isinstance(h, logging.FileHandler)]:
        if h.baseFilename != path and Path(h.baseFilename).name == LOG:
            log.removeHandler(h)
            h.close()
    if not any(getattr(h, "baseFilename", None) == path for h in log.handlers):
        h = _LogFile(path)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(h)
    log.setLevel(logging.INFO)


def make_config(specs: dict[str, str], preset: str = "small",
                network: str | Mapping[str, str] = "auto", baseline: str | None = None,
                **kw) -> TrainConfig:
    """A TrainConfig with preset-dependent defaults (small: short chunks, few steps).

    ``network``: one network for every branch, or {target: network} (targets left out:
    ``auto``).
    """
    defaults = TRAIN_PRESETS[preset]
    loss_keys = set(asdict(LossConfig()))
    loss = {k: kw.pop(k) for k in list(kw) if k in loss_keys}
    order = [t for t in TARGETS if t in specs] + [t for t in specs if t not in TARGETS]
    nets = network if isinstance(network, Mapping) else dict.fromkeys(order, network)
    default, per_target = split_networks({t: nets.get(t, "auto") for t in order})
    model = ModelConfig(specs={t: specs[t] for t in order}, network=default,
                        target_networks=per_target,
                        preset=preset, mask=kw.pop("mask", "sigmoid"),
                        deoverlap=kw.pop("deoverlap", None) or {},
                        sizes=kw.pop("sizes", None) or {},
                        target_sizes=kw.pop("target_sizes", None) or {}).to_dict()
    return TrainConfig(model=model, loss=asdict(LossConfig(**loss)), baseline=baseline,
                       **{**defaults, **kw})
