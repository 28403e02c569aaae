"""Reports of searches: pandas tables, PNG plots, and the best spec per target.

    >>> from tfselect.report import make_report, read_best
    >>> make_report("sqlite:///studies/tfselect.db", out="reports")
    >>> read_best("reports/best.csv")            # {"vocals": "slicqt:...", ...}

Modules: :mod:`.tables` (trials, best, correlations, Pareto), :mod:`.plots`,
:mod:`.best` (``best.csv`` contract, ``tfselect best``), :mod:`.build` (``tfselect report``),
:mod:`.verify` (``tfselect verify``: a best.csv's picks on held-out tracks).
"""

from .best import best_spec, read_best
from .build import Report, make_report

__all__ = ["Report", "best_spec", "make_report", "read_best"]
