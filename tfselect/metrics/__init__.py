"""Per-target scores of a transform: sparsity, ridge analysis, mask oracles and cost.

    >>> from tfselect.metrics import score, METRICS, GROUPS, DIRECTIONS
    >>> score("stft:n_fft=4096,hop=1024", "vocals", clips, metrics=["oracles", "gini"])
    {'gini': ..., 'mpi': ..., 'irm1': ..., 'irm2': ..., 'ibm': ..., 'mwf': ..., 'n_clips': 8,
     'n_skipped': 0}

Formulas in docs/design.md (Metrics); one module per family (:mod:`.sparsity`, :mod:`.ridges`,
:mod:`.oracles`, :mod:`.sdr`, :mod:`.cost`), the names in :mod:`.names` and the entry point
in :mod:`.score`. The names import nothing heavy; ``score``, ``ClipScorer`` and
``RidgeConfig`` load torch when first used.
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

from .names import BSS, DIRECTIONS, GROUPS, METRICS, UNITS, resolve_metrics

__all__ = [
    "BSS", "DIRECTIONS", "GROUPS", "METRICS", "UNITS", "ClipScorer", "RidgeConfig",
    "resolve_metrics", "score",
]  # fmt: skip
__getattr__, __dir__ = lazy_exports(
    __name__, {"ClipScorer": "score", "score": "score", "RidgeConfig": "ridges"}
)
