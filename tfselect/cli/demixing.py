"""Commands that use a trained demixer: ``evaluate`` and ``separate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli.options import (
    DeviceOpt,
    QuietOpt,
    RootOpt,
    SubsetOpt,
    WienerIterationsOpt,
    WienerOpt,
)


def evaluate(
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained model.")
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    tracks: Annotated[int | None, typer.Option("--tracks", help="Only the first N tracks.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Processes for BSSEval.")] = 1,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Score only the first seconds.")
    ] = None,
    wiener: WienerOpt = False,
    wiener_iterations: WienerIterationsOpt = 1,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default MODEL/eval-SUBSET).")
    ] = None,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Score a trained demixer with museval (BSSEval v4) on a subset.

    Writes per-track JSON, tracks.csv and medians.csv (median over tracks per target) to
    MODEL/eval-SUBSET.
    """
    from tfselect.api.demixing import evaluate as score  # torch, museval: --help stays fast

    medians = score(model, root, subset, tracks, jobs, duration, wiener, wiener_iterations, out,
                    device, progress=not quiet)  # fmt: skip
    typer.echo(medians.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


def separate(
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE", help="Audio files (wav, flac, ...) or folders of them."),
    ],
    model: Annotated[
        Path, typer.Option("--model", metavar="DIR", help="Folder of a trained model.")
    ],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Output folder.")] = Path(
        "separated"
    ),
    targets: Annotated[
        str | None,
        typer.Option(
            "--targets",
            metavar="NAMES",
            show_default="all",
            help="Only these stems, comma-separated (e.g. vocals,drums).",
        ),
    ] = None,
    two_stems: Annotated[
        str | None,
        typer.Option(
            "--two-stems",
            metavar="TARGET",
            help="Write TARGET and no_TARGET (the input minus TARGET): they sum to the input.",
        ),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="Stem files: wav or flac.")
    ] = "wav",
    bits: Annotated[
        str | None,
        typer.Option(
            "--bits",
            metavar="BITS",
            show_default="32f for wav, 24 for flac",
            help="16, 24 (integer) or 32f (float; wav only).",
        ),
    ] = None,
    wiener: WienerOpt = False,
    wiener_iterations: WienerIterationsOpt = 1,
    chunk: Annotated[float, typer.Option("--chunk", help="Chunk length, seconds.")] = 30.0,
    overlap: Annotated[float, typer.Option("--overlap", help="Chunk overlap, seconds.")] = 2.0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace stems already in --out.")
    ] = False,
    device: DeviceOpt = "cpu",
    quiet: QuietOpt = False,
) -> None:
    """Separate songs into one file per stem with a trained demixer.

    Writes OUT/<song>/<stem>.wav (or .flac) at the input's length and sample rate: every
    target, and residual.wav when the targets do not cover the mixture. <song> is the file's
    name without extension (its folder's name for a MUSDB mixture.wav), made unique with -2,
    -3... when several inputs share it. Prints each file written; the progress bar and
    which input went to which folder (when names are shared) go to stderr.
    """
    from tfselect.api.demixing import separate as run  # torch: --help stays fast

    def tell_shared(pairs: list[tuple[Path, Path]]) -> None:
        typer.echo("inputs sharing a name, and their folders:", err=True)
        for path, folder in pairs:
            typer.echo(f"  {path} -> {folder}", err=True)

    run(files, model, out, wiener, wiener_iterations, chunk, overlap, overwrite, device,
        on_file=lambda path: typer.echo(str(path)), targets=targets, two_stems=two_stems,
        format=format, bits=bits, progress=not quiet,
        on_shared_names=tell_shared)  # fmt: skip
