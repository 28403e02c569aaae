"""The per-target demixer: train it, score it with museval, separate songs, compare
configurations at an equal budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tfselect import TARGETS
from tfselect.atomic import check_out_dir
from tfselect.audio.dataset import resolve_root
from tfselect.audio.targets import check_target, load_target_map
from tfselect.checks import check_choice, check_not_a_file, check_range, check_ranges, check_seed
from tfselect.demix.compare import CompareResult, parse_user_config
from tfselect.demix.compare import compare as compare_configs
from tfselect.demix.deoverlap import deoverlap_models
from tfselect.demix.evaluate import evaluate_model
from tfselect.demix.model import (
    baseline_network,
    baseline_specs,
    check_networks,
    parse_networks,
)
from tfselect.demix.model_files import load_model
from tfselect.demix.presets import TRAIN_PRESETS
from tfselect.demix.separate import (
    MAX_WIENER_ITERATIONS,
    check_chunking,
    output_folder,
    output_names,
    separate_songs,
    shared_names,
    stem_names,
)
from tfselect.demix.separate_io import (
    check_input,
    expand_inputs,
    output_format,
    parse_targets,
    stem_plan,
)
from tfselect.demix.specs import canonical, parse_overrides, resolve_specs, study_best_specs
from tfselect.demix.train import make_config, train
from tfselect.errors import TfselectError
from tfselect.search.storage import DEFAULT_STORAGE


@dataclass(frozen=True)
class Training:
    """A finished (or resumed) training: its folder, the branches' specs, the loss
    history (one dict per epoch: epoch, train_loss, valid_loss, ...) and each target's
    network as named (``auto``: ``blstm`` on one block, else ``cdae``)."""

    out: Path
    specs: dict[str, str]
    history: list[dict]
    networks: dict[str, str] = field(default_factory=dict)


def train_specs(
    best: Path | str | None = None, spec: Sequence[str] = (), storage: str = DEFAULT_STORAGE,
    study: str | None = None, select: str = "significant", baseline: str | None = None,
    shared_spec: str | None = None, network: str | Mapping[str, str] = "auto",
) -> tuple[dict[str, str], dict[str, str]]:  # fmt: skip
    """({target: canonical spec}, {target: network}) of a demixer: a baseline's, else the
    study's and best.csv's picks with ``spec`` items (``TARGET=SPEC``) overriding them.

    ``network``: one network for all targets, or ``TARGET=NETWORK`` items (comma-separated,
    or a mapping; the targets not named get ``auto``). Every target's network is checked
    against its transform's form here, before anything is written.
    """
    if isinstance(network, str) and "=" not in network:  # one name: known before any file
        parse_networks(network, ())
    if baseline is not None:
        check_choice("--baseline", baseline, ("shared-slicqt", "stft"))
        nets = {t: baseline_network(baseline, n)
                for t, n in parse_networks(network, TARGETS).items()}
        specs = {t: canonical(s) for t, s in baseline_specs(baseline, shared_spec, nets).items()}
    else:
        study_specs = study_best_specs(storage, study, select) if study is not None else None
        best_path = Path(best) if best is not None else None
        specs = resolve_specs(best_path, parse_overrides(spec), study_specs, select)
        nets = parse_networks(network, list(specs))
    check_networks(specs, nets)
    return specs, nets


def train_best(
    root: Path | str | None = None,
    best: Path | str | None = None,
    storage: str = DEFAULT_STORAGE,
    study: str | None = None,
    select: str = "significant",
    spec: Sequence[str] = (),
    out: Path | str = "models/per-target",
    epochs: int = 10,
    preset: str = "small",
    baseline: str | None = None,
    shared_spec: str | None = None,
    network: str | Mapping[str, str] = "auto",
    batch_size: int | None = None,
    chunk: float | None = None,
    steps: int | None = None,
    valid_seconds: float = 10.0,
    patience: int = 30,
    time_loss: str = "wsdr",
    freq_loss: str = "mag",
    alpha: float = 10.0,
    masksum: float = 0.0,
    augment: bool = True,
    amp: bool = True,
    seed: int = 42,
    device: str = "cpu",
    progress: bool = True,
    config: Path | str | None = None,
    deoverlap: str = "none",
    deoverlap_model: Sequence[Path | str] = (),
) -> Training:
    """Train the demixer whose branch per target uses that target's transform.

    The transforms come from ``best`` (best.csv, as chosen by ``select``), ``study`` (the
    studies STUDY-<target>) or ``spec`` (``TARGET=SPEC`` items, overriding both);
    ``baseline`` (``stft`` or ``shared-slicqt``) trains a comparison instead. ``network``:
    one network for all branches or ``TARGET=NETWORK`` items (the others ``auto``); a
    network that cannot take its target's form is refused before anything is written, and
    the model folder stores each target's network. ``preset``
    (small or large) sets ``batch_size``, ``chunk`` (seconds) and ``steps`` (per epoch)
    left None. Re-running with the same ``out`` resumes. ``deoverlap='learned'`` needs one
    ``deoverlap_model`` folder per ragged sliCQT branch.
    """
    check_seed(seed)
    check_choice("--preset", preset, tuple(TRAIN_PRESETS))
    specs, networks = train_specs(best, spec, storage, study, select, baseline, shared_spec,
                                  network)  # fmt: skip
    # config field -> (its command-line option, value); all must be positive
    given = {"batch_size": ("--batch-size", batch_size), "chunk_seconds": ("--chunk", chunk),
             "steps": ("--steps", steps)}  # fmt: skip
    for option, value in [*given.values(), ("--valid-seconds", valid_seconds),
                          ("--patience", patience)]:  # fmt: skip
        if value is not None and value <= 0:
            raise TfselectError(f"{option} must be positive, got {value}")
    # Upper bounds: far beyond any useful run, short of allocating the machine away.
    check_ranges(("--epochs", epochs, 1, 100_000), ("--batch-size", batch_size, 0, 4096),
                 ("--chunk", chunk, 0, 600), ("--steps", steps, 0, 1_000_000),
                 ("--valid-seconds", valid_seconds, 0, 3600), ("--patience", patience, 0, 100_000),
                 ("--alpha", alpha, 0, 10**6), ("--masksum", masksum, 0, 10**6))  # fmt: skip
    opts: dict[str, object] = {k: v for k, (_, v) in given.items() if v is not None}
    nets = deoverlap_models(deoverlap, [Path(d) for d in deoverlap_model], specs)
    if nets:
        opts["deoverlap"] = nets
    check_not_a_file(out)  # before the dataset is looked for
    target_map = load_target_map(config)
    data_root = resolve_root(root)
    for target in specs:  # before anything is written
        check_target(data_root, target, target_map)
    if target_map is not None:
        opts["targets"] = target_map.as_dict()
    try:
        train_config = make_config(
            specs, preset, networks, baseline, epochs=epochs, valid_seconds=valid_seconds,
            patience=patience, seed=seed, augment=augment, mix_tracks=augment, amp=amp,
            root=str(root) if root else None, time=time_loss, freq=freq_loss, alpha=alpha,
            masksum=masksum, **opts,
        )  # fmt: skip
    except ValueError as exc:
        raise TfselectError(str(exc)) from None
    history = train(train_config, Path(out), device=device, progress=progress)
    return Training(Path(out), specs, history, networks)


def evaluate(
    model: Path | str,
    root: Path | str | None = None,
    subset: str = "test",
    tracks: int | None = None,
    jobs: int = 1,
    duration: float | None = None,
    wiener: bool = False,
    wiener_iterations: int = 1,
    out: Path | str | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> pd.DataFrame:
    """Score the demixer in ``model`` with museval (BSSEval v4) on ``subset``.

    Writes per-track JSON, tracks.csv and medians.csv to ``out`` (default MODEL/eval-SUBSET)
    and returns medians.csv: one row per target, median SDR/SIR/SAR/ISR over tracks, dB.
    ``duration``: score only each track's first seconds.
    """
    if duration is not None and not 0 < duration <= 36_000:
        raise TfselectError(f"--duration must be in (0, 36000] seconds, got {duration:g}")
    check_ranges(("--wiener-iterations", wiener_iterations, 1, MAX_WIENER_ITERATIONS),
                 ("--jobs", jobs, 1, 1024))  # fmt: skip
    if out is not None:
        check_out_dir(Path(out))
    return evaluate_model(Path(model), Path(root) if root is not None else None, subset,
                          tracks, jobs, wiener, device, duration,
                          Path(out) if out is not None else None, progress=progress,
                          wiener_iterations=wiener_iterations)  # fmt: skip


def separate(
    files: Sequence[Path | str],
    model: Path | str,
    out: Path | str = "separated",
    wiener: bool = False,
    wiener_iterations: int = 1,
    chunk: float = 30.0,
    overlap: float = 2.0,
    overwrite: bool = False,
    device: str = "cpu",
    on_file: Callable[[Path], object] | None = None,
    targets: Sequence[str] | str | None = None,
    two_stems: str | None = None,
    format: str = "wav",
    bits: str | None = None,
    progress: bool = True,
    on_shared_names: Callable[[list[tuple[Path, Path]]], object] | None = None,
) -> list[Path]:
    """Separate each audio file into OUT/<song>/<stem>.<format> at its length and rate;
    return the written paths.

    ``files``: audio files, or folders standing for the audio files directly in them.
    Stems: every target (and ``residual`` when the targets do not cover the mixture), only
    ``targets`` (names, or ``"vocals,drums"``), or with ``two_stems`` T the two files T and
    ``no_T`` = the input minus T's estimate (they add up to the input). ``format`` ``wav``
    or ``flac``; ``bits`` ``16``, ``24`` or ``32f`` (default 32f for WAV, 24 for FLAC).
    ``chunk``/``overlap``: processing chunk and its overlap, seconds. Every input is opened
    and every name clash found before any song is separated; ``on_shared_names`` is then
    called once with (input, its folder) of the inputs that share a name, when some do,
    and ``on_file`` with each path once written. ``progress``: a bar on stderr.
    """
    check_chunking(chunk, overlap)
    check_range("--wiener-iterations", wiener_iterations, 1, MAX_WIENER_ITERATIONS)
    output = output_format(format, bits)
    only = parse_targets(targets) if isinstance(targets, str) else targets
    demixer = load_model(Path(model), device)
    plan = stem_plan(list(demixer.targets), "residual" in stem_names(demixer),
                     list(only) if only is not None else None, two_stems)  # fmt: skip
    paths = expand_inputs(files)
    songs = [check_input(p) for p in paths]
    out = Path(out)
    names = output_names(paths)
    for name in names:
        output_folder(out, name, [s.name for s in plan], overwrite, output.suffix)
    check_out_dir(out)  # creates it: the last check, so a refused command leaves nothing
    shared = shared_names(paths)
    if shared and on_shared_names is not None:
        on_shared_names([(path, out / name) for path, name in shared])
    return separate_songs(demixer, songs, names, out, wiener, chunk, overlap,
                          wiener_iterations, overwrite, plan, output, progress,
                          on_file)  # fmt: skip


def compare(
    out: Path | str,
    best: Path | str | None = None,
    root: Path | str | None = None,
    configs: str | Sequence[str] = "selected,stft,shared-slicqt",
    config_spec: Sequence[str] = (),
    preset: str = "cpu",
    seeds: int = 3,
    steps: int | None = None,
    minutes: float | None = None,
    network: str | None = None,
    batch_size: int | None = None,
    chunk: float | None = None,
    match: str = "params",
    jobs: int = 1,
    subset: str = "test",
    duration: float | None = None,
    select: str = "significant",
    device: str | None = None,
    progress: bool = True,
    on_done: Callable[[dict], None] | None = None,
) -> CompareResult:
    """Train each configuration × seed at an equal budget, score every test track and
    compare each configuration with the STFT per track (files in ``out``; resumable).

    ``configs``: names (comma-separated or a sequence) of built-in configurations;
    ``config_spec``: your own, ``NAME=SPEC`` or ``NAME=vocals:SPEC,...``. ``on_done`` is
    called with each finished run (config, seed, steps, seconds).
    """
    user = dict(parse_user_config(item) for item in config_spec)
    names = configs.split(",") if isinstance(configs, str) else list(configs)
    names = [c.strip() for c in names if c.strip()]
    if chunk is not None:
        check_range("--chunk", chunk, 0.1, 600)
    check_range("--batch-size", batch_size, 1, 4096)
    return compare_configs(
        Path(out), names, user, Path(best) if best is not None else None, select, preset,
        seeds, steps, minutes, Path(root) if root is not None else None, network, jobs,
        device, subset, duration, progress=progress, batch_size=batch_size,
        chunk_seconds=chunk, match=match, on_done=on_done,
    )  # fmt: skip
