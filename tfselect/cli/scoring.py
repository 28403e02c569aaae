"""``tfselect score``: every metric of one transform for one target."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present
from tfselect.cli.options import ConfigMapOpt, DeviceOpt, RootOpt, SeedOpt, SubsetOpt, TargetOpt


def score(
    target: TargetOpt,
    transform: Annotated[
        str,
        typer.Option("--transform", metavar="SPEC", help="e.g. stft:n_fft=4096,hop=1024."),
    ],
    root: RootOpt = None,
    subset: SubsetOpt = "valid",
    clips: Annotated[int, typer.Option("--clips", help="Clips per track.")] = 2,
    seconds: Annotated[
        float, typer.Option("--seconds", help="Clip length in seconds (0: whole tracks).")
    ] = 10.0,
    tracks: Annotated[
        int | None, typer.Option("--tracks", help="Only the first N tracks of the subset.")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option("--metrics", help="Comma-separated metrics and/or groups (default: all)."),
    ] = None,
    bss: Annotated[
        str, typer.Option("--bss", help="SDR: fast (global SDR), museval (BSSEval v4 median "
                          "over 1-s frames, slow), usdr (MDX challenge) or si-sdr.")
    ] = "fast",
    float64: Annotated[bool, typer.Option("--float64", help="Compute in float64.")] = False,
    seed: SeedOpt = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the result as a one-row CSV.")
    ] = None,
    device: DeviceOpt = "cpu",
    config: ConfigMapOpt = None,
) -> None:
    """Score one transform for one target: metric medians over clips.

    Every metric (or those of --metrics) on --clips clips of each track of --subset, then
    the median over clips; clips where the target is silent are skipped and counted.
    """
    from tfselect.api.scoring import score as run  # torch: --help stays fast

    progress = present.progress_on_terminal("clips")
    result = run(target, transform, root, subset, clips, seconds, tracks, metrics, bss,
                 float64, seed, device, config, out, progress)  # fmt: skip
    if json_out:  # strict JSON: a metric that could not be computed is null, never NaN
        typer.echo(json.dumps(result.json_safe(), allow_nan=False))
    else:
        present.render_table(result.row, result.metrics)
