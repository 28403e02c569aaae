"""Per-target scores of a transform: sparsity, ridge analysis, mask oracles and cost.

    >>> from tfselect.metrics import score, METRICS, GROUPS, DIRECTIONS
    >>> score("stft:n_fft=4096,hop=1024", "vocals", clips, metrics=["oracles", "gini"])
    {'gini': ..., 'mpi': ..., 'irm1': ..., 'irm2': ..., 'ibm': ..., 'mwf': ..., 'n_clips': 8,
     'n_skipped': 0}

Formulas in docs/design.md (Metrics); one module per family (:mod:`.sparsity`, :mod:`.ridges`,
:mod:`.oracles`, :mod:`.sdr`, :mod:`.cost`) and the entry point in :mod:`.score`.
"""

from .ridges import RidgeConfig
from .score import BSS, DIRECTIONS, GROUPS, METRICS, ClipScorer, resolve_metrics, score

__all__ = [
    "BSS", "DIRECTIONS", "GROUPS", "METRICS", "ClipScorer", "RidgeConfig", "resolve_metrics",
    "score",
]  # fmt: skip
