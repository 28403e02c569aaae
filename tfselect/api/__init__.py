"""tfselect's tasks as Python functions: what each ``tfselect`` command does, returning
result objects instead of printing.

    >>> from tfselect import api
    >>> api.search("vocals", trials=8, storage="sqlite:///studies/demo.db")
    >>> rep = api.report(storage="sqlite:///studies/demo.db", out="reports/demo")
    >>> api.train_best(best="reports/demo/best.csv", out="models/demo", epochs=2)

Every argument a user can get wrong is checked here (``TfselectError``, one line), so the
command line only parses options and shows results. Modules, one per group of tasks:
:mod:`.data` (demo_data, targets), :mod:`.scoring` (score), :mod:`.searching` (search,
fail_stale, best, default_config), :mod:`.surveying` (survey), :mod:`.reporting` (report,
verify), :mod:`.demixing` (train_best, evaluate, separate, compare), :mod:`.deoverlapping`
(deoverlap_train, deoverlap_eval). Importing this package loads none of them (nor torch)
until a name is used.
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

# name -> the module of this package that defines it
_WHERE = {
    "demo_data": "data", "DemoCorpus": "data", "targets": "data", "Targets": "data",
    "score": "scoring", "Score": "scoring",
    "search": "searching", "Search": "searching", "fail_stale": "searching",
    "StaleTrials": "searching", "best": "searching", "default_config": "searching",
    "survey": "surveying",
    "report": "reporting", "verify": "reporting",
    "train_best": "demixing", "Training": "demixing", "train_specs": "demixing",
    "evaluate": "demixing", "separate": "demixing", "compare": "demixing",
    "deoverlap_train": "deoverlapping", "deoverlap_eval": "deoverlapping",
    "DeOverlapEval": "deoverlapping",
}  # fmt: skip

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
