"""Commands about datasets: ``demo-data`` and ``targets``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present
from tfselect.cli.options import ConfigMapOpt, RootOpt, SeedOpt


def demo_data(
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write (new or empty).")
    ],
    tracks: Annotated[int, typer.Option("--tracks", help="Number of train tracks.")] = 8,
    test_tracks: Annotated[
        int | None, typer.Option("--test-tracks", help="Test tracks (default: tracks/4, >= 1).")
    ] = None,
    seconds: Annotated[float, typer.Option("--seconds", help="Duration of each track.")] = 12.0,
    seed: SeedOpt = 0,
    subtype: Annotated[
        str, typer.Option("--subtype", help="WAV sample format: PCM_16 or FLOAT.")
    ] = "PCM_16",
    stems: Annotated[
        str,
        typer.Option("--stems", help="musdb (vocals, drums, bass, other) or fine (vocals, "
                     "drums, bass, keys, plucks, pads; no mixture.wav)."),
    ] = "musdb",
) -> None:
    """Write the synthetic demo corpus (MUSDB18-HQ layout) to a folder."""
    from tfselect.api.data import demo_data as write  # numpy and soundfile: --help stays fast

    corpus = write(out, tracks=tracks, test_tracks=test_tracks, seconds=seconds, seed=seed,
                   subtype=subtype, stems=stems)  # fmt: skip
    present.print_demo_corpus(corpus)


def targets(root: RootOpt = None, config: ConfigMapOpt = None) -> None:
    """List the dataset's targets: where each is present and active.

    One row per target (and a residual row when the targets leave part of the mixture):
    tracks where it is present, tracks where it is active, median active fraction.
    """
    from tfselect.api.data import targets as find  # numpy and pandas: --help stays fast

    present.print_targets(find(root, config))
