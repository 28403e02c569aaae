"""Reports of searches: pandas tables, PNG plots, and the best spec per target.

    >>> from tfselect.report import make_report, read_best
    >>> make_report("sqlite:///studies/tfselect.db", out="reports")
    >>> read_best("reports/best.csv")            # {"vocals": "slicqt:...", ...}

Modules: :mod:`.tables` (trials, best, correlations, Pareto), :mod:`.plots`,
:mod:`.best` (``best.csv`` contract, ``tfselect best``), :mod:`.build` (``tfselect report``),
:mod:`.verify` (``tfselect verify``: a best.csv's picks on held-out tracks).

Names load from their modules when first used: ``import tfselect.report.best`` loads
neither torch nor the search runner.
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

_WHERE = {
    "best_spec": "best",
    "read_best": "best",
    "Report": "build",
    "make_report": "build",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
