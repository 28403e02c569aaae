"""Model and checkpoint files that are data, never code: one safetensors file per state.

A pickle (``torch.save``) runs whatever its author put in it when it is loaded, so a model
folder received from elsewhere could execute code under ``evaluate`` or ``separate``. Here a
state is a tree of dicts, lists, tuples, numbers, strings, tensors and numpy arrays: the
tensors (and arrays) go into a safetensors file, the rest of the tree into the file's JSON
metadata with each tensor replaced by a reference to its name. Loading parses a JSON header
and raw tensor bytes, nothing else.

safetensors keeps only a flat name -> tensor map and string metadata, hence the small
encoder below (hand-written: no library maps a nested optimizer/RNG state onto that).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from tfselect.atomic import atomic_write
from tfselect.errors import TfselectError

META_KEY = "tfselect"
FORMAT = 1


class TensorFileError(TfselectError):
    """A file that is not a tfselect safetensors state (corrupt, foreign or unsafe)."""


def _encode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        name = f"t{len(tensors)}"
        # safetensors wants contiguous tensors that share no memory with each other
        tensors[name] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        name = f"t{len(tensors)}"
        # stored as int64/float64 so every numpy dtype round-trips (uint32 RNG keys included)
        kind = np.int64 if np.issubdtype(obj.dtype, np.integer) else np.float64
        tensors[name] = torch.from_numpy(np.ascontiguousarray(obj, dtype=kind))
        return {"__ndarray__": name, "dtype": obj.dtype.str}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors) for k, v in obj.items()}
        # non-string keys (optimizer state is keyed by parameter index)
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in obj.items()]}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a tensor file")


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__ndarray__" in obj:
        return tensors[obj["__ndarray__"]].numpy().astype(np.dtype(obj["dtype"]))
    if "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__items__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


def save_state(state: dict, path: str | Path) -> Path:
    """Write ``state`` (a tree of containers, scalars, tensors, arrays) atomically to ``path``."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, tensors)
    meta = {META_KEY: json.dumps({"format": FORMAT, "state": tree})}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def load_state(path: str | Path) -> dict:
    """Read a state written by :func:`save_state` (tensors on the CPU); never runs code.

    Raises:
        TensorFileError: unreadable, not safetensors, or not written by tfselect.
    """
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
        header = json.loads(meta[META_KEY])
        state = _decode(header["state"], tensors)
    except (KeyError, TypeError, ValueError) as exc:
        raise TensorFileError(f"{path} is not a tfselect model file ({first_line(exc)})") from None
    except Exception as exc:  # safetensors raises SafetensorError, OSError...
        raise TensorFileError(f"cannot read {path}: {first_line(exc)}") from None
    if not isinstance(state, dict):
        raise TensorFileError(f"{path} is not a tfselect model file")
    return state


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), for one-line
    errors about a file that a library could not use."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
