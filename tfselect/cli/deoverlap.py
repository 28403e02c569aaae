"""``tfselect deoverlap``: learn the way from a ragged sliCQT's overlap-added picture back
to its slices (``train``), and measure it (``eval``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present_checks
from tfselect.cli.options import (
    QuietOpt,
    RootOpt,
    SeedOpt,
    SubsetOpt,
)
from tfselect.errors import Interrupted


def train(
    transform: Annotated[
        str, typer.Option("--transform", metavar="SPEC", help="A ragged slicqt: spec.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")],
    root: RootOpt = None,
    minutes: Annotated[
        float, typer.Option("--minutes", help="Training time in all (wall clock).")
    ] = 5.0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Clips per step.")] = 8,
    seconds: Annotated[float, typer.Option("--seconds", help="Clip length, seconds.")] = 3.0,
    synthetic: Annotated[
        float, typer.Option("--synthetic", help="Share of synthetic clips (0 to 1).")
    ] = 0.25,
    bins_radius: Annotated[
        int, typer.Option("--bins-radius", help="Neighbour bins each side.")
    ] = 4,
    frames_radius: Annotated[
        int, typer.Option("--frames-radius", help="Neighbour frames each side.")
    ] = 8,
    max_frames: Annotated[
        int, typer.Option("--max-frames", help="Learn blocks up to this many frames.")
    ] = 64,
    ridge: Annotated[float, typer.Option("--ridge", help="Relative ridge of the fit.")] = 1e-6,
    seed: SeedOpt = 42,
    quiet: QuietOpt = False,
) -> None:
    """Train a DeOverlapNet for one ragged sliCQT.

    On random clips of the corpus's train tracks (mixtures and stems) plus synthetic
    signals; validation on its valid tracks. Re-running the same command resumes from
    OUT/checkpoint.safetensors and trains until --minutes in all. OUT/curve.csv records the
    held-out SNR against training time.
    """
    from tfselect.api.deoverlapping import deoverlap_train  # torch: --help stays fast

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        curve = deoverlap_train(transform, out, root, minutes, batch_size, seconds, synthetic,
                                bins_radius, frames_radius, max_frames, ridge, seed,
                                progress=not quiet)  # fmt: skip
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; {out} keeps the last checkpoint (one a minute): "
            "rerun the same command to resume"
        ) from None
    present_checks.print_deoverlap_curve(curve, out)


def evaluate(
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained DeOverlapNet.")
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    seconds: Annotated[
        float, typer.Option("--seconds", help="Seconds from the middle of each track.")
    ] = 10.0,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="CSV", help="Default MODEL/eval-SUBSET.csv.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Reconstruction SNR of a DeOverlapNet and of the window split, per block.

    For every source (mixture, stems) of the held-out tracks: the coefficient SNR and the
    waveform SNR after the exact inverse, with all blocks de-overlapped (block "all") and
    with one block at a time (the others exact).
    """
    from tfselect.api.deoverlapping import deoverlap_eval  # torch: --help stays fast

    result = deoverlap_eval(model, root, subset, seconds, out, not quiet)
    present_checks.print_deoverlap_eval(result)
