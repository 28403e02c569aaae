"""Presenting a score: a rich table on the terminal and a one-row CSV written atomically."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from tfselect.atomic import atomic_write
from tfselect.errors import TfselectError

UNITS = {
    "mpi": "dB",
    "irm1": "dB",
    "irm2": "dB",
    "ibm": "dB",
    "mwf": "dB",
    "ridge_sdr_time": "dB",
    "ridge_sdr_freq": "dB",
    "renyi3": "bits",
    "redundancy": "coefs/sample",
    "seconds": "s per s of audio",
    "peak_mb": "MB",
}


def render_table(row: Mapping[str, object], metrics: Sequence[str], directions: Mapping) -> None:
    """Print the medians of ``metrics`` from ``row`` as a table (rich) on stdout.

    Args:
        row: the score plus "target", "transform", "n_clips" and "n_skipped".
        metrics: metric names to show, in order.
        directions: "maximize"/"minimize" per metric, shown as ↑/↓.
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{row['target']} · {row['transform']}")
    table.add_column("metric")
    table.add_column("median", justify="right")
    table.add_column("unit")
    table.add_column("better", justify="center")
    for name in metrics:
        value = float(row[name])  # type: ignore[arg-type]
        text = "nan" if math.isnan(value) else f"{value:.4g}"
        arrow = "↑" if directions.get(name) == "maximize" else "↓"
        table.add_row(name, text, UNITS.get(name, ""), arrow)
    console = Console()
    console.print(table)
    # A caption would be wrapped to the table's width; one line under it reads better.
    console.print(f"median over {row['n_clips']} clip(s); {row['n_skipped']} skipped (silent "
                  "target)", highlight=False, soft_wrap=True)  # fmt: skip


def write_csv_row(path: Path, row: Mapping[str, object]) -> None:
    """Write ``row`` as a CSV with a header line and one data line, atomically.

    The file is written next to ``path`` under a temporary name and moved into place with
    ``os.replace``, so a reader never sees half a file and an interrupted run leaves no
    partial output. Missing parent folders are created.

    Raises:
        TfselectError: the folder cannot be created or written.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(dict(row))

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise TfselectError(f"cannot write {path}: {exc.strerror or exc}") from None
