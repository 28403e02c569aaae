"""The summary ``scripts/demo.sh`` prints at its end, read back from the files its commands
wrote: the transform ``train-best`` used per target, the demixers' median SDR per target,
and the stems ``separate`` wrote.

Run as ``python -m tfselect.cli.demo_summary BEST_CSV STEMS_DIR MODEL_DIR...``. No line is
wider than the terminal (80 columns at most, 40 at least) but for the lines that name a
file: a path is printed whole, so it can be pasted.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from tfselect.cli.present import best_lines


def _selected(best):
    """The rows ``train-best`` took from a best.csv DataFrame: per target, the first
    ``selected`` row (the best, or the better reference when the best is not significantly
    better), or the first ``best`` row of a best.csv written before ``selected`` existed."""
    if "selected" in best.columns:
        pick = best["selected"].eq(True)  # an empty cell reads as NaN: not selected
    else:
        pick = best["candidate"] == "best"
    return best[pick].drop_duplicates("target")


def summary_lines(
    best_csv: str | Path, stems: str | Path, models: Sequence[str | Path], width: int = 80
) -> list[str]:
    """The demo's summary as lines of at most ``width`` columns (paths aside).

    Args:
        best_csv: the report's best.csv.
        stems: the folder ``separate`` wrote into (its ``*.wav`` are listed, sorted).
        models: model folders, each with ``eval-test/medians.csv`` (``tfselect evaluate``).
        width: the widest line, in columns (at least 40).

    Returns:
        Per target the selected transform (candidate, mean objective value, spec, then the
        difference to the reference with its 95 % interval, p and the verdict); the median
        SDR (dB) per target and model, one column per model (named by its folder's name when
        those differ, else by its path); the stem files.
    """
    import pandas as pd  # half a second: only when the summary runs

    best_csv, stems = Path(best_csv), Path(stems)
    lines = [f"== best transform per target ({best_csv}; train-best used these)"]
    lines += best_lines(_selected(pd.read_csv(best_csv)), width, title=None)

    lines += ["", "== median SDR on the demo test tracks, dB (museval BSSEval v4)"]
    names = [Path(m).name for m in models]
    if len(set(names)) < len(names):
        names = [str(m) for m in models]
    sdr = pd.DataFrame(
        {
            name: pd.read_csv(Path(model) / "eval-test" / "medians.csv").set_index("target")["SDR"]
            for name, model in zip(names, models, strict=True)
        }
    )
    sdr.index.name, sdr.columns.name = None, "target"  # "target" heads the first column
    table = sdr.to_string(float_format=lambda v: f"{v:.2f}", line_width=max(width, 40))
    lines += table.splitlines()

    lines += ["", f"== stems of one test mixture in {stems}/:"]
    lines += [f"  {wav}" for wav in sorted(stems.rglob("*.wav"))]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of ``argv`` = BEST_CSV STEMS_DIR MODEL_DIR... (default: the
    command line's) at the terminal's width, 80 columns at most."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        print("usage: python -m tfselect.cli.demo_summary BEST_CSV STEMS MODEL...", file=sys.stderr)
        return 2
    width = min(shutil.get_terminal_size((80, 24)).columns, 80)
    print()
    for line in summary_lines(args[0], args[1], args[2:], width):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
