"""What a transform costs: redundancy, forward+inverse time, peak memory.

- redundancy: complex coefficients per input sample and channel (``Transform.redundancy``).
- seconds: wall time of one forward plus one inverse of a stereo clip, divided by the clip's
  duration (seconds of compute per second of audio; < 1 is faster than real time).
- peak_mb: the most memory the allocator held above its starting level during that
  forward+inverse, in MB (10⁶ bytes). CUDA: ``torch.cuda.max_memory_allocated``. CPU: torch
  has no CPU allocator statistics, so the peak is replayed from the allocation events of the
  torch profiler (every allocation and free the CPU allocator makes, inside kernels too).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator

import torch
from torch import Tensor

from tfselect.transforms.base import Transform

# Imported inside the functions that need them, so that importing this module stays light:
# torch.profiler.


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_inverse_seconds(transform: Transform, x: Tensor) -> float:
    """Wall time in seconds of ``transform.inverse(transform.forward(x), n)``.

    Args:
        transform: the transform to time.
        x: (..., channels, samples) signal, already on the transform's device and dtype.
    """
    _sync(x.device)
    start = time.perf_counter()
    with torch.no_grad():
        y = transform.inverse(transform.forward(x), x.shape[-1])
    _sync(x.device)
    del y
    return time.perf_counter() - start


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: the profiler's C++ side logs start/stop lines there."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def peak_memory_mb(transform: Transform, x: Tensor) -> float:
    """Peak extra memory in MB while computing a forward and an inverse of ``x``.

    Args:
        transform: the transform to measure.
        x: (..., channels, samples) signal on the transform's device and dtype; its own memory
            is not counted (it exists before the call), the coefficients and output are.
    """
    n = x.shape[-1]
    if x.device.type == "cuda":
        _sync(x.device)
        torch.cuda.reset_peak_memory_stats(x.device)
        base = torch.cuda.memory_allocated(x.device)
        with torch.no_grad():
            y = transform.inverse(transform.forward(x), n)
        _sync(x.device)
        peak = torch.cuda.max_memory_allocated(x.device) - base
        del y
        return peak / 1e6
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), torch.no_grad():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            y = transform.inverse(transform.forward(x), n)
            del y
    events = prof.profiler.kineto_results.events()
    # Memory events carry signed sizes (+ allocation, - free) in time order once sorted.
    allocs = sorted(
        (e.start_ns(), e.nbytes())
        for e in events
        if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")
    )
    current = peak = 0
    for _, nbytes in allocs:
        current += nbytes
        peak = max(peak, current)
    return peak / 1e6
