"""Optuna search of the transform per target: space, objectives, storage, studies, runner.

    >>> from tfselect.search import run_search, load_config
    >>> run_search("vocals", storage="sqlite:///studies/tfselect.db", trials=20)

Modules: :mod:`.space` (candidate specs), :mod:`.objectives` (objective strings),
:mod:`.config` (study TOML), :mod:`.storage` (one URL -> an Optuna storage), :mod:`.study`
(what a study holds: tags, references, per-clip values, best trial, samplers, pruner),
:mod:`.trial` (the clip pool and one candidate's racing evaluation), :mod:`.run` (the loop).

Names load from their modules when first used: importing this package (or one of its
modules, e.g. :mod:`.storage`) loads neither torch nor the runner.
"""

from __future__ import annotations

from tfselect.lazy import lazy_exports

_WHERE = {
    "StudyConfig": "config",
    "load_config": "config",
    "DEFAULT_OBJECTIVE": "objectives",
    "Objectives": "objectives",
    "parse_objectives": "objectives",
    "best_trial": "ranking",
    "SearchResult": "run",
    "run_search": "run",
    "SearchSpace": "space",
    "open_storage": "storage",
    "REFERENCES": "study",
    "SAMPLERS": "study",
    "StudyTags": "study",
    "make_pruner": "study",
    "make_sampler": "study",
    "read_tags": "study",
    "tagged_studies": "study",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
