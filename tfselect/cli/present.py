"""What a person sees: rich tables and summaries of the API's results.

Library code returns results; this module alone turns them into text on the terminal.
"""

from __future__ import annotations

import math
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from tfselect.metrics import DIRECTIONS, UNITS
from tfselect.report.best import row_verdict
from tfselect.report.survey import summary_lines

if TYPE_CHECKING:
    import pandas as pd


def num(v: float | None, fmt: str = "+.2f") -> str:
    """``v`` formatted, or "" for None or NaN (an empty cell)."""
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def progress_on_terminal(unit: str):
    """A ``progress(done, total)`` that counts ``unit`` on stderr, only on a terminal (logs
    stay clean)."""

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            typer.echo(f"\rscored {done}/{total} {unit}", err=True, nl=done == total)

    return progress


def print_demo_corpus(corpus) -> None:
    """One line: what ``demo_data`` wrote (a ``DemoCorpus``)."""
    typer.echo(
        f"wrote {corpus.tracks} tracks ({corpus.size_bytes / 1e6:.1f} MB) to "
        f"{corpus.path} in {corpus.seconds:.1f} s"
    )


def print_targets(result) -> None:
    """The targets of a dataset (a ``Targets``) as a table."""
    df = result.table
    table = Table(title=f"targets of {result.root} ({df.attrs['layout']}, {df.attrs['tracks']} "
                        f"tracks)")  # fmt: skip
    for col in ("target", "present", "active", "median active fraction"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for row in df.itertuples():
        table.add_row(row.target, str(row.present), str(row.active),
                      f"{row.median_active_fraction:.2f}")  # fmt: skip
    Console(width=120).print(table)


def render_table(row: Mapping[str, object], metrics: Sequence[str],
                 directions: Mapping = DIRECTIONS) -> None:  # fmt: skip
    """Print the medians of ``metrics`` from a score's ``row`` as a table on stdout.

    Args:
        row: the score plus "target", "transform", "n_clips" and "n_skipped".
        metrics: metric names to show, in order.
        directions: "maximize"/"minimize" per metric, shown as ↑/↓.
    """
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


def search_summary(outcome) -> str:
    """What a search run did (a ``Search``): two lines, then the verdict in words."""
    result = outcome.result
    run = f"this run: {result.ran} new candidate(s)"
    if result.raced:
        run += f" ({result.raced} raced out early)"
    if result.repeats:
        run += f", {result.repeats} repeated proposal(s) answered from the study"
    if result.exhausted:
        run += ", stopped: the space looks exhausted (widen it in the config)"
    if result.gave_up:
        run += (
            ", stopped: trials kept failing to complete (see their fail_reason in "
            "`tfselect report`)"
        )
    held = (f"study {result.study} now holds {result.complete} complete, {result.pruned} "
            f"pruned, {result.failed} failed candidate(s)")  # fmt: skip
    if outcome.choice is None:
        return f"{run}; {held}; no complete candidate yet"
    choice = outcome.choice
    return f"{run}\n{held}\n{choice.sentence()}; selected: {choice.spec}"


def print_report(rep, out: Path) -> None:
    """The files a report wrote (a ``Report``; names relative to ``out``, plots on one
    line), its warnings on stderr, then best.csv as a table."""
    n = len(rep.studies)
    typer.echo(f"report of {n} stud{'y' if n == 1 else 'ies'} ({rep.n_trials} trials) in {out}:")
    pngs = [f for f in rep.files if Path(f).suffix == ".png"]
    # Names relative to --out: a long --out is said once, above, not on every line.
    names = [_relative(f, out) for f in rep.files if f not in pngs]
    for line in textwrap.wrap(", ".join(names), _width() - 2, break_on_hyphens=False):
        typer.echo(f"  {line}")
    if pngs:  # one line for the plots: their kinds, each written per target
        kinds = dict.fromkeys(
            Path(f).stem.split("_")[0] + ("_grid" if "grid" in Path(f).stem else "_*") for f in pngs
        )
        typer.echo(f"  {len(pngs)} plots: {{{','.join(kinds)}}}.png")
    for msg in rep.warnings:
        typer.echo(f"tfselect: warning: {msg}", err=True)
    print_best_csv(out / "best.csv")


def _relative(path: str | Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when it lies inside it, else as given."""
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return str(path)


def _width() -> int:
    """The terminal's width in columns (``COLUMNS`` when set; 80 when not a terminal)."""
    return Console().width


BEST_TITLE = "best transform per target (best.csv; * = selected)"


def print_best_csv(path: Path, width: int | None = None) -> None:
    """Show best.csv: each target's best spec next to the two references, with the
    statistics and the units they were computed over ("10 tracks", "12 held-out tracks"
    for a confirmation split, or "30 clips" for a study that stored no pool).

    One table row per best.csv row when the table fits ``width`` columns (default: the
    terminal's); else two lines per row under a heading per target (:func:`best_lines`),
    so no line is wider than ``width``. best.csv itself keeps every column."""
    import pandas as pd  # half a second: only when there is a best.csv to show

    if not path.is_file():
        return
    df = pd.read_csv(path)
    console = Console(width=width) if width else Console()
    table = _best_table(df)
    # The table's natural width: measured as if the terminal had no edge (rich would
    # otherwise squeeze the specs into folded columns to fit).
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if natural <= console.width:
        console.print(table)
        return
    for line in best_lines(df, console.width):
        typer.echo(line)


def _best_rows(df: pd.DataFrame) -> list[dict[str, str]]:
    """best.csv's rows as the text shown: target, objective, candidate (``*`` when
    selected), spec, value, diff [95% CI], p, over (units) and verdict."""
    import pandas as pd

    has_stats = "diff" in df.columns
    rows = []
    for row in df.itertuples():
        shown = {
            "target": str(row.target),
            "objective": str(row.objective),
            "candidate": row.candidate + ("*" if has_stats and bool(row.selected) else ""),
            "spec": str(row.spec),
            "value": f"{row.value:.2f}",
            "diff [95% CI]": "",
            "p": "",
            "over": "",
            "verdict": "",
        }
        if has_stats and pd.notna(row.diff):
            shown["diff [95% CI]"] = f"{row.diff:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}]"
            shown["p"] = f"{row.p_value:.2g}"
            shown["over"] = _units(row)
            shown["verdict"] = row_verdict(row)
        elif has_stats and isinstance(row.verdict, str):
            shown["verdict"] = row.verdict
        rows.append(shown)
    return rows


def _best_table(df: pd.DataFrame) -> Table:
    """best.csv as one rich table row per row (175 columns wide on the demo's best.csv)."""
    table = Table(title=BEST_TITLE)
    rows = _best_rows(df)
    cols = (
        "target",
        "objective",
        "candidate",
        "spec",
        "value",
        "diff [95% CI]",
        "p",
        "over",
        "verdict",
    )
    for col in cols:
        table.add_column(col, justify="right" if col in ("value", "p", "over") else "left")
    for row in rows:
        table.add_row(*(row[c] for c in cols))
    return table


def best_lines(df: pd.DataFrame, width: int = 80, title: str | None = BEST_TITLE) -> list[str]:
    """best.csv for a narrow terminal: no line wider than ``width`` (at least 40).

    ``title`` (None: none), the column names, then a heading per target (its objective, and
    the units of its statistics when its rows share them), then per row: candidate, value
    and spec (wrapped after a comma when too long), then, indented, diff [95% CI], p and
    the verdict (wrapped between them, or between the verdict's words)::

        bass · mpi · over 8 tracks
          best          7.62  stft:n_fft=8192,hop=4096,window=hamming
              +0.09 [-0.06, +0.25]  p 0.64  not distinguishable from xumx-slicq
    """
    width = max(width, 40)
    rows = _best_rows(df)
    name_w = max([len(r["candidate"]) for r in rows] + [len("candidate")])
    value_w = max([len(r["value"]) for r in rows] + [len("value")])
    indent = 2 + name_w + 2 + value_w + 2  # where the spec starts
    lines = [
        *([title] if title else []),
        f"  {'candidate':<{name_w}}  {'value':>{value_w}}  spec",
        f"{STATS_INDENT}diff [95% CI]  p  verdict",
    ]
    for target in dict.fromkeys(r["target"] for r in rows):
        group = [r for r in rows if r["target"] == target]
        units = {r["over"] for r in group if r["over"]}
        shared = len(units) == 1  # said once in the heading, not on every row
        head = [target, *dict.fromkeys(r["objective"] for r in group)]
        head += [f"over {u}" for u in units if shared]
        lines += textwrap.wrap(" · ".join(head), width, subsequent_indent="  ")
        for r in group:
            spec = _wrap_spec(r["spec"], width - indent)
            lines.append(f"  {r['candidate']:<{name_w}}  {r['value']:>{value_w}}  {spec[0]}")
            lines += [" " * indent + part for part in spec[1:]]
            over = "" if shared or not r["over"] else f"over {r['over']}"
            p = f"p {r['p']}" if r["p"] else ""
            # No-break spaces keep an interval, "p 0.64" and "over 8 tracks" whole on a line.
            stats = [x.replace(" ", NBSP) for x in (r["diff [95% CI]"], p, over)]
            text = "  ".join(x for x in [*stats, r["verdict"]] if x)
            wrapped = textwrap.wrap(
                text, width, initial_indent=STATS_INDENT, subsequent_indent=STATS_INDENT
            )
            lines += [x.replace(NBSP, " ") for x in wrapped]
    return lines


STATS_INDENT = " " * 6
NBSP = "\u00a0"  # not a space to textwrap: never broken at


def _wrap_spec(spec: str, width: int) -> list[str]:
    """A spec in pieces of at most ``width`` characters, each but the last ending after a
    comma (a field is cut only when it alone is longer than ``width``)."""
    width = max(width, 8)
    pieces, line = [], ""
    for field in re.findall(r"[^,]+,?|,", spec):
        if line and len(line) + len(field) > width:
            pieces.append(line)
            line = ""
        while len(field) > width:
            pieces.append(field[:width])
            field = field[width:]
        line += field
    return [*pieces, line] if line or not pieces else pieces


def _units(row) -> str:
    """The units behind one best.csv row's statistics: "10 tracks" (track level) or "30
    clips" (clip level, or a best.csv written before tracks were counted)."""
    n_tracks = getattr(row, "n_tracks", None)
    if n_tracks is not None and not _missing(n_tracks):
        held = "held-out " if getattr(row, "stage", "") == "confirmation" else ""
        return f"{int(n_tracks)} {held}tracks"
    return "" if _missing(row.n_paired) else f"{int(row.n_paired)} clips"


def _missing(v: object) -> bool:
    """None or NaN (what pandas reads for an empty cell)."""
    return v is None or (isinstance(v, float) and math.isnan(v))


def print_survey(result, rep, out: Path) -> None:
    """What a survey run scored (its counts, when it ran), one line per target on the
    metrics that beat the trivial predictors, and the report's files."""
    if result is not None:
        typer.echo(
            f"survey {result.study}: {result.complete} of {result.points} candidates "
            f"scored ({result.ran} in this run)"
        )
    for line in summary_lines(rep.predictors, rep.ridge):
        typer.echo(line)
    typer.echo(f"report in {out}: {', '.join(Path(f).name for f in rep.files)}")
