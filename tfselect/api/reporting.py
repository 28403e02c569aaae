"""Report studies (tables, plots, best.csv); verify a best.csv's picks on held-out tracks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from tfselect.audio.dataset import resolve_root
from tfselect.audio.targets import load_target_map
from tfselect.checks import check_range, check_seed
from tfselect.demix.evaluate import demix_table
from tfselect.report.build import Report, make_report
from tfselect.report.verify import verify as verify_picks
from tfselect.report.verify import write_verify
from tfselect.search.storage import DEFAULT_STORAGE


def report(
    storage: str = DEFAULT_STORAGE,
    study: Sequence[str] | None = None,
    out: Path | str = "reports",
    root: Path | str | None = None,
    bootstrap: int = 1000,
    plots: bool = True,
    model: Sequence[Path | str] | None = None,
    subset: str = "test",
    seed: int = 0,
    overwrite: bool = False,
) -> Report:
    """Write the report of ``study`` (default: every tfselect study in ``storage``) to ``out``.

    Files: trials.csv, best.csv (what ``train_best`` reads), correlations.csv, pareto.csv,
    PNG plots (``plots``); with ``model`` (evaluated demixer folders), demix.csv too: median
    SDR/SIR/SAR/ISR per target of each, as evaluated on ``subset``. ``bootstrap``: resamples
    of the correlation intervals. ``overwrite``: replace files in ``out`` no report wrote.
    """
    check_seed(seed)
    demix = None
    if model:  # read first: a model that was never evaluated stops before anything is written
        demix = demix_table([Path(m) for m in model], subset=subset)
    return make_report(
        storage, studies=list(study) if study else None, out=Path(out),
        root=Path(root) if root is not None else None, n_boot=bootstrap, with_plots=plots,
        seed=seed, extra_tables={"demix.csv": demix} if demix is not None else None,
        overwrite=overwrite,
    )  # fmt: skip


def verify(
    best: Path | str = "reports/best.csv",
    root: Path | str | None = None,
    subset: str = "test",
    seconds: float = 0.0,
    bss: str = "fast",
    select: str = "significant",
    device: str = "cpu",
    config: Path | str | None = None,
    out: Path | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Score best.csv's pick and both references of every target on every track of
    ``subset`` and compare them per track.

    Args:
        seconds: 0: whole tracks; else consecutive clips of that length from each track's
            start, averaged per track.
        bss: SDR convention: fast, museval, usdr or si-sdr.
        out: also write the rows there (CSV).
        progress: called as ``progress(done, total)`` after each track.

    Returns:
        One row per target and comparison (``tfselect.report.verify.COLUMNS``: the means
        over tracks, the mean per-track difference pick − reference with its bootstrap 95 %
        interval, Wilcoxon p, tracks won, verdict); ``attrs["silent"]``: tracks left out.
    """
    check_range("--seconds", seconds, 0, 3600)
    df = verify_picks(Path(best), resolve_root(root), subset, seconds, bss, device, select,
                      load_target_map(config), progress)  # fmt: skip
    if out is not None:
        write_verify(df, Path(out))
    return df
