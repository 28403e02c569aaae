"""Commands that read results back: ``report`` and ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tfselect.cli import present, present_checks
from tfselect.cli.options import (
    DeviceOpt,
    PlotsOpt,
    RootOpt,
    SeedOpt,
    SelectOpt,
    StorageOpt,
    SubsetOpt,
)
from tfselect.search.storage import DEFAULT_STORAGE


def report(
    storage: StorageOpt = DEFAULT_STORAGE,
    study: Annotated[
        list[str] | None,
        typer.Option(
            "--study",
            metavar="NAME",
            help="Study name, repeatable (default: every tfselect study).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Report folder.")] = Path(
        "reports"
    ),
    root: RootOpt = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples of the correlation CIs.")
    ] = 1000,
    plots: PlotsOpt = True,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model",
            metavar="DIR",
            help="Evaluated demixer folder, repeatable (per-target and baselines): adds demix.csv.",
        ),
    ] = None,
    subset: Annotated[
        str, typer.Option("--subset", help="Evaluation subset the --model folders were scored on.")
    ] = "test",
    seed: SeedOpt = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace files in --out that no earlier report wrote (a user's own best.csv).",
        ),
    ] = False,
) -> None:
    """Write the report of studies: best.csv, tables and plots.

    Files: trials.csv, best.csv (what train-best reads), correlations.csv, pareto.csv and
    PNG plots. With --model, also demix.csv: median SDR/SIR/SAR/ISR per target of each
    evaluated demixer (run `tfselect evaluate` first), e.g. the per-target model against
    both baselines.

    Only the report's own files in --out change: it is built aside, then each file is
    renamed into place; the files the previous report wrote and this one does not are
    removed (--out/.tfselect-report.json lists them); everything else stays, and a symlinked
    --out is written through. A file of the same name that no report wrote stops the
    report (exit 2, nothing changed) unless --overwrite.
    """
    from tfselect.api.reporting import report as write  # pandas, matplotlib: --help stays fast

    rep = write(storage, study, out, root, bootstrap, plots, model, subset, seed, overwrite)
    present.print_report(rep, out)


def verify(
    best: Annotated[
        Path, typer.Option("--best", metavar="CSV", help="best.csv of `tfselect report`.")
    ] = Path("reports/best.csv"),
    root: RootOpt = None,
    subset: SubsetOpt = "test",
    seconds: Annotated[
        float,
        typer.Option(
            "--seconds",
            help="0: whole tracks; else consecutive clips of S "
            "seconds from each track's start, averaged per track.",
        ),
    ] = 0.0,
    bss: Annotated[str, typer.Option("--bss", help="SDR: fast, museval, usdr or si-sdr.")] = "fast",
    select: SelectOpt = "significant",
    device: DeviceOpt = "cpu",
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML whose \\[targets] table maps stems.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", metavar="CSV", help="Also write one row per target and comparison."),
    ] = None,
) -> None:
    """Check best.csv's picks against both references on test tracks.

    Every track of --subset is scored with the target's objective (best.csv's objective
    column, e.g. mpi) for the pick and the stft and xumx-slicq rows' specs. Per comparison:
    the mean over tracks of the per-track differences pick − reference (the difference of
    the medians is not what is tested), its bootstrap 95 % interval (resampling tracks), the
    Wilcoxon signed-rank p over tracks, the tracks the pick wins and the verdict; first
    against the better reference (better mean on these tracks), then each reference.
    """
    from tfselect.api.reporting import verify as check  # torch: --help stays fast

    df = check(best, root, subset, seconds, bss, select, device, config, out,
               present.progress_on_terminal("tracks"))  # fmt: skip
    present_checks.print_verify(df)
