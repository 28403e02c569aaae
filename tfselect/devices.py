"""The torch device a command runs on, checked once with a clear error (any layer uses it)."""

from __future__ import annotations

import os

import torch

from tfselect.errors import TfselectError


def resolve_device(device: str) -> torch.device:
    """``--device`` text -> torch.device; TfselectError (one line) when it cannot be used.

    tfselect runs on ``cpu`` and ``cuda[:N]``; a CUDA device must exist on this machine.
    ``auto`` is the first CUDA device when there is one, else the CPU.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise TfselectError(f"invalid device '{device}': use auto, cpu, cuda or cuda:N") from None
    if dev.type not in ("cpu", "cuda"):
        raise TfselectError(f"device '{device}': tfselect runs on auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TfselectError(f"device '{device}' requested but CUDA is not available")
    try:  # e.g. cuda:7 on a machine with one GPU
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as exc:
        raise TfselectError(f"device '{device}' cannot be used: {exc}") from None
    return dev


def rank_device(device: str) -> torch.device:
    """``--device``, checked; under torchrun each rank takes its own GPU (LOCAL_RANK)."""
    dev = resolve_device(device)
    if dev.type == "cuda" and "LOCAL_RANK" in os.environ:
        dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return dev
