"""The files of a model folder and reading them safely, for every model tfselect saves
(the demixer, the DeOverlapNet): their names, the one error for an unusable file, and
loading weights with one summary line. What a demixer's folder holds is in
:mod:`.model_files`; this module knows no network, so any network's module may use it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tfselect.demix.tensorfile import load_state
from tfselect.errors import TfselectError

CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"
# Pickle files of earlier versions: refused, since loading a pickle can run code.
UNSAFE = ("model.pt", "checkpoint.pt")
LOSSES = "losses.csv"
LOG = "train.log"


class CheckpointError(TfselectError):
    """A checkpoint that cannot be used with this configuration, or is unreadable."""


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint or model file; CheckpointError if it is not one of ours."""
    try:
        ck = load_state(path)
    except TfselectError as exc:
        raise CheckpointError(str(exc)) from None
    missing = [key for key in ("model_config", "state_dict") if key not in ck]
    if missing:
        raise CheckpointError(f"{path} is not a tfselect demixer checkpoint (no {missing[0]})")
    return ck


def load_weights(module: torch.nn.Module, weights: dict, path: Path) -> None:
    """``module.load_state_dict(weights)`` with one summary line instead of torch's list.

    Weights holding NaN or infinity are refused too (naming the first such tensor): they
    would turn every output into NaN, and ``separate`` would write NaN stems without a word.
    """
    own = module.state_dict()
    if not isinstance(weights, dict):
        raise CheckpointError(f"{path}: state_dict is not a map of weight names to tensors")
    unknown = sorted(set(weights) - set(own), key=str)  # a crafted file's keys may be numbers
    missing = sorted(set(own) - set(weights))
    shapes = sorted(k for k in set(own) & set(weights)
                    if not isinstance(weights[k], torch.Tensor) or weights[k].shape != own[k].shape)
    if unknown or missing or shapes:
        parts = [f"{len(v)} {what} (first: {v[0]})" for what, v in (
            ("unknown weight(s)", unknown), ("missing weight(s)", missing),
            ("weight(s) of the wrong shape", shapes)) if v]
        raise CheckpointError(f"{path} does not match its model configuration: "
                              + "; ".join(parts))
    bad = next((k for k in sorted(weights) if not torch.isfinite(weights[k]).all()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weight {bad} holds NaN or infinite values")
    module.load_state_dict(weights)
