"""Commands that train demixers: ``train-best`` and ``compare``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present_checks
from tfselect.cli.options import (
    ConfigMapOpt,
    DeviceOpt,
    QuietOpt,
    RootOpt,
    SeedOpt,
    SelectOpt,
    StorageOpt,
    StudyOpt,
    SubsetOpt,
)
from tfselect.demix.presets import preset_defaults
from tfselect.errors import Interrupted
from tfselect.search.storage import DEFAULT_STORAGE


def train_best(
    root: RootOpt = None,
    best: Annotated[
        Path | None,
        typer.Option("--best", metavar="CSV",
                     help="best.csv of `tfselect report` (default: reports/best.csv unless "
                     "--study/--spec name the targets); one branch per target."),
    ] = None,
    storage: StorageOpt = DEFAULT_STORAGE,
    study: StudyOpt = None,
    select: SelectOpt = "significant",
    spec: Annotated[
        list[str] | None,
        typer.Option("--spec", metavar="TARGET=SPEC",
                     help="Repeatable; overrides best.csv / the study."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")] = Path(
        "models/per-target"
    ),
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs (in total).")] = 10,
    preset: Annotated[str, typer.Option("--preset", help="small (CPU) or large.")] = "small",
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="shared-slicqt (one sliCQT for all) or stft (UMX)."),
    ] = None,
    shared_spec: Annotated[
        str | None, typer.Option("--shared-spec", help="Transform of --baseline shared-slicqt.")
    ] = None,
    network: Annotated[
        str, typer.Option("--network", metavar="NET",
                          help="auto, blstm or convnext (matrix forms), or cdae (per block), "
                          "for all targets; or per target: TARGET=NET,... (the others: auto).")
    ] = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            show_default=preset_defaults("batch_size"),
            help="Global batch size.",
        ),
    ] = None,
    chunk: Annotated[
        float | None,
        typer.Option(
            "--chunk",
            show_default=preset_defaults("chunk_seconds"),
            help="Training chunk length in seconds.",
        ),
    ] = None,
    steps: Annotated[
        int | None,
        typer.Option(
            "--steps", show_default=preset_defaults("steps"), help="Steps per epoch."
        ),
    ] = None,
    valid_seconds: Annotated[
        float, typer.Option("--valid-seconds", help="Validation chunk per track, seconds.")
    ] = 10.0,
    patience: Annotated[int, typer.Option("--patience", help="Early-stopping patience.")] = 30,
    time_loss: Annotated[str, typer.Option("--time-loss", help="wsdr, sdr or sisdr.")] = "wsdr",
    freq_loss: Annotated[str, typer.Option("--freq-loss", help="mag or complex.")] = "mag",
    alpha: Annotated[float, typer.Option("--alpha", help="Weight of the time loss.")] = 10.0,
    masksum: Annotated[
        float, typer.Option("--masksum", help="Weight of the mask-sum regulariser (0: off).")
    ] = 0.0,
    no_augment: Annotated[
        bool, typer.Option("--no-augment", help="No gain/swap augmentation or track mixing.")
    ] = False,
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="bf16 autocast on CUDA.")] = True,
    seed: SeedOpt = 42,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
    config: ConfigMapOpt = None,
    deoverlap: Annotated[
        str, typer.Option("--deoverlap", help="none, or learned: ragged branches mask the "
                          "overlap-added picture; a frozen DeOverlapNet maps it to slices.")
    ] = "none",
    deoverlap_model: Annotated[
        list[Path] | None,
        typer.Option("--deoverlap-model", metavar="DIR",
                     help="Repeatable: a `tfselect deoverlap train` folder, one per ragged "
                     "sliCQT (with --deoverlap learned)."),
    ] = None,
) -> None:
    """Train the demixer: each target on its own best transform.

    The transforms come from --best (the report's best.csv, as chosen by --select), from
    --study NAME (the studies NAME-<target>, e.g. NAME-vocals) or from --spec; one branch
    per target named. --baseline trains a comparison instead. Re-running the same command
    resumes from OUT/checkpoint.safetensors. Several GPUs or processes: torchrun
    --nproc-per-node N -m tfselect train-best ...
    """
    from tfselect.api.demixing import train_best as train  # torch: --help stays fast

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        done = train(
            root, best, storage, study, select, spec or [], out, epochs, preset, baseline,
            shared_spec, network, batch_size, chunk, steps, valid_seconds, patience, time_loss,
            freq_loss, alpha, masksum, not no_augment, amp, seed, device, not quiet, config,
            deoverlap, deoverlap_model or [],
        )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: checkpoints are atomic, the last one stands
        raise Interrupted(f"interrupted; {out} keeps the checkpoint of the last finished epoch: "
                          "rerun the same command to resume") from None
    if done.history:
        last = done.history[-1]
        typer.echo(f"epoch {int(last['epoch'])}: train {last['train_loss']:.4f} "
                   f"valid {last['valid_loss']:.4f}; model in {out}")


def compare(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Comparison folder.")],
    best: Annotated[
        Path | None,
        typer.Option("--best", metavar="CSV", help="best.csv of `tfselect report` (for "
                     "selected and oracle-best-shared)."),
    ] = None,
    root: RootOpt = None,
    configs: Annotated[
        str, typer.Option("--configs", metavar="NAMES",
                          help="Comma-separated: selected (best.csv), stft (4096/1024 for "
                          "all: Open-Unmix), shared-slicqt (Bark-262 for all: xumx-sliCQ), "
                          "oracle-best-shared (best mean oracle over targets in best.csv).")
    ] = "selected,stft,shared-slicqt",
    config_spec: Annotated[
        list[str] | None,
        typer.Option("--config-spec", metavar="NAME=SPECS",
                     help="Repeatable: your own configuration, NAME=SPEC (all targets) or "
                     "NAME=vocals:SPEC,drums:SPEC,..."),
    ] = None,
    preset: Annotated[
        str, typer.Option("--preset", help="cpu (2 cores, small BLSTM, 150 steps per run) or "
                          "gpu (Open-Unmix size, 120 min per run on CUDA).")
    ] = "cpu",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per configuration.")] = 3,
    steps: Annotated[
        int | None, typer.Option("--steps", show_default="the preset's",
                                 help="Step budget per run (equal for all runs).")
    ] = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", help="Wall-clock training budget per run "
                                   "instead of --steps.")
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", show_default="the preset's (blstm)",
                                 help="blstm, convnext or cdae: one family for every run.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", show_default="the preset's",
                                 help="Batch size.")
    ] = None,
    chunk: Annotated[
        float | None, typer.Option("--chunk", show_default="the preset's",
                                   help="Training chunk, seconds.")
    ] = None,
    match: Annotated[
        str, typer.Option("--match", help="params: each branch's width tuned to the stft "
                          "branch's parameter count; width: the preset's width everywhere.")
    ] = "params",
    jobs: Annotated[int, typer.Option("--jobs", help="Runs in parallel (processes).")] = 1,
    subset: SubsetOpt = "test",
    duration: Annotated[
        float | None, typer.Option("--duration", help="Score only each track's first seconds.")
    ] = None,
    select: SelectOpt = "significant",
    device: Annotated[
        str | None, typer.Option("--device", metavar="DEVICE", show_default="the preset's",
                                 help="torch device: auto (CUDA when present), cpu, "
                                 "cuda, cuda:1, ...")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Equal-budget demixers, paired per test track against the STFT.

    Does the per-target choice pay? Every run uses the same network family at parameter counts
    within 5 % of the stft configuration's, branch by branch (the width is tuned), the same
    optimiser, data order, seeds and step (or wall-clock) budget; ragged sliCQTs are trained in
    their rasterized matrix form. Each run is scored per test track: cSDR (museval v4, median of
    1-s frames), uSDR (whole-track SDR of the Music Demixing Challenge) and SI-SDR. Writes
    compare.csv (a row per config x seed x track x target), summary.csv (per-track differences
    to stft, averaged over seeds: mean, bootstrap 95 % CI over tracks, Wilcoxon p, verdict),
    transfer.csv (oracle gain vs trained gain) and compare.png. Rerunning resumes; several
    processes or machines given the same command and --out share the runs.
    """
    from tfselect.api.demixing import compare as run  # torch: --help stays fast

    def done(r: dict) -> None:
        typer.echo(f"run {r['config']} seed {r['seed']}: {r['steps']} steps, {r['seconds']:.0f} s")

    try:
        result = run(out, best, root, configs, config_spec or [], preset, seeds, steps, minutes,
                     network, batch_size, chunk, match, jobs, subset, duration, select, device,
                     progress=not quiet, on_done=done)  # fmt: skip
    except KeyboardInterrupt:  # checkpoints and scores are atomic: finished runs stand
        raise Interrupted(f"interrupted; rerun the same command to resume {out}") from None
    present_checks.print_compare(result)
    if result.missing:
        typer.echo(f"tfselect: warning: {len(result.missing)} run(s) unfinished (held by "
                   "another process, or failed): rerun the same command to finish them",
                   err=True)
