"""Optuna search of the transform per target: space, objectives, storage, studies, runner.

    >>> from tfselect.search import run_search, load_config
    >>> run_search("vocals", storage="sqlite:///studies/tfselect.db", trials=20)

Modules: :mod:`.space` (candidate specs), :mod:`.objectives` (objective strings),
:mod:`.config` (study TOML), :mod:`.storage` (one URL -> an Optuna storage), :mod:`.study`
(what a study holds: tags, references, per-clip values, best trial, samplers, pruner),
:mod:`.trial` (the clip pool and one candidate's racing evaluation), :mod:`.run` (the loop).
Importing this package does not import torch; the runner imports it when it scores.
"""

from .config import StudyConfig, load_config
from .objectives import DEFAULT_OBJECTIVE, Objectives, parse_objectives
from .ranking import best_trial
from .run import SearchResult, run_search
from .space import SearchSpace
from .storage import open_storage
from .study import (
    REFERENCES,
    SAMPLERS,
    StudyTags,
    make_pruner,
    make_sampler,
    read_tags,
    tagged_studies,
)

__all__ = [
    "DEFAULT_OBJECTIVE",
    "REFERENCES",
    "SAMPLERS",
    "Objectives",
    "SearchResult",
    "SearchSpace",
    "StudyConfig",
    "StudyTags",
    "best_trial",
    "load_config",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "parse_objectives",
    "read_tags",
    "run_search",
    "tagged_studies",
]
