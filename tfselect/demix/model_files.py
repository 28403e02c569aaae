"""A demixer's model folder: its layout, and reading a trained model back from it.

Layout of a model folder ``DIR`` (``train`` writes it, ``evaluate`` and ``separate`` read it):

- ``checkpoint.safetensors``: the last epoch's full state (model, optimizer, scheduler, RNG
  states, epoch, early-stopping state, loss history, configuration), from which training
  resumes.
- ``model.safetensors``: the weights with the best validation loss and the model
  configuration (what ``evaluate`` and ``separate`` load).
- ``losses.csv``: one row per epoch (train/valid losses and their parts, learning rate,
  seconds); ``train.log``: the log.

Both model files are safetensors files whose configuration is JSON metadata (``tensorfile``):
loading a model folder reads data and never runs code, unlike a pickle. A model folder is
also data from someone else, so everything read from it is checked before it is used: its
target names (they become file names) by the rule of user-given names, its sizes against
bounds, its weights for NaN and infinity; each failure is one line naming the file and the
field.
"""

from __future__ import annotations

from pathlib import Path

from tfselect.audio.targets import TargetMap
from tfselect.demix.checkpoints import (  # noqa: F401 - the folder's names, read from here too
    CHECKPOINT,
    LOG,
    LOSSES,
    MODEL,
    UNSAFE,
    CheckpointError,
    load_checkpoint,
    load_weights,
)
from tfselect.demix.model import Demixer, ModelConfig, ModelConfigError
from tfselect.devices import rank_device
from tfselect.errors import TfselectError


def load_model(model_dir: Path, device: str = "cpu") -> Demixer:
    """The best model saved in ``model_dir`` (``model.safetensors``, else the last checkpoint).

    Reads data only (safetensors + JSON); a folder holding only pickle files of an earlier
    version is refused with one line rather than unpickled.
    """
    model_dir = Path(model_dir)
    path = model_dir / MODEL if (model_dir / MODEL).exists() else model_dir / CHECKPOINT
    if not path.exists():
        old = [name for name in UNSAFE if (model_dir / name).exists()]
        if old:
            raise CheckpointError(
                f"{model_dir / old[0]} is a pickle file of an earlier tfselect, which is not "
                "loaded because loading a pickle can run code; retrain into a new --out"
            )
        raise CheckpointError(f"no trained model in {model_dir} (expected {MODEL}; run "
                              f"`tfselect train-best --out {model_dir}` first)")
    ck = load_checkpoint(path)
    model = build_model(ck, path)
    model.train_config = read_train_config(ck, path)
    return model.to(rank_device(device)).eval()


def read_train_config(ck: dict, path: Path) -> dict:
    """The training configuration of a model file, as far as reading a model uses it: a
    mapping whose target map (``evaluate`` regroups the corpus with it) holds valid names,
    and whose ``baseline`` (a model's name in the tables) is a string. CheckpointError (one
    line) otherwise."""
    config = ck.get("train_config", {})
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: train_config must be a mapping, got "
                              f"{type(config).__name__}")
    if config.get("targets") not in (None, {}):
        try:
            TargetMap.from_dict(config["targets"], f"{path} train_config.targets")
        except TfselectError as exc:
            raise CheckpointError(str(exc)) from None
    if not isinstance(config.get("baseline"), str | None):
        raise CheckpointError(f"{path}: train_config.baseline must be a name or null")
    return config


def build_model(ck: dict, path: Path) -> Demixer:
    """The Demixer of a checkpoint dict with its weights; CheckpointError (one line) when the
    configuration or the weights do not fit (unknown keys, missing keys, wrong shapes)."""
    cfg = ck["model_config"]
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: model_config must be a mapping, got {type(cfg).__name__}")
    extra = sorted(set(cfg) - set(ModelConfig.__dataclass_fields__), key=str)
    if extra:
        raise CheckpointError(f"{path}: unknown model configuration keys {extra}")
    try:  # ModelConfig checks every field (names, types, bounds) before anything is built
        model = Demixer(ModelConfig(**cfg))
    except (ModelConfigError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unusable model_config ({exc})") from None
    load_weights(model, ck["state_dict"], path)
    return model
