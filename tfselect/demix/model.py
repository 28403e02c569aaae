"""The per-target demixer: one branch per target, each on its own transform.

A branch is ``transform -> |C| -> network -> mask -> mask * C -> inverse -> waveform``:

- ``blstm``: Open-Unmix-style network on a *matrix* form (one block: STFT, or a sliCQT with
  ``form=zeropad|rasterize``); the (slices, frames) axes are flattened into one time axis.
- ``cdae``: xumx-sliCQ-style convolutional denoising auto-encoder, one per block of the
  (ragged) coefficients: a ragged sliCQT, or an ``mrstft`` (one STFT block per band, which
  has no matrix form); works for matrix forms too (one block, one CDAE).
- ``convnext``: ConvNeXt blocks (``convnext.ConvNeXtNet``) on a matrix form, like ``blstm``.

An ``ens:`` target is one such branch per member, their waveforms averaged
(:mod:`.members`).

Networks see ``log1p(|C|)`` (a fixed compression instead of Open-Unmix's dataset
statistics, so a model needs no pass over the data before training) and use LayerNorm /
GroupNorm rather than BatchNorm, so every example is processed independently of the batch:
DistributedDataParallel on per-rank batches then computes exactly the single-process
gradient of the global batch.

Shapes: ``Demixer.forward(x)`` takes the mixture (batch, channels, samples) and returns the
estimates (batch, targets, channels, samples).
"""

from __future__ import annotations

import copy
import dataclasses
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.audio.stem_files import TARGET_NAME_RULE, is_target_name
from tfselect.demix.convnext import ConvNeXtNet
from tfselect.demix.deoverlap import DeOverlapConfig, DeOverlapNet, load_net
from tfselect.demix.members import EnsembleBranch, member_specs
from tfselect.errors import SpecError, TfselectError
from tfselect.transforms import TransformSpec, build

SHARED_SLICQT = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"
STFT_BASELINE = "stft:n_fft=4096,hop=1024"

# Preset -> network sizes. "small" trains on a CPU in minutes; "large" follows the
# published sizes (Open-Unmix hidden 512 / 3 LSTM layers; xumx-sliCQ 25/55 channels;
# ConvNeXt-T's first stage: width 96). ConvNeXt: width, blocks and the patch (bins x frames)
# of its stem; sizes added later are filled in from the preset when an older checkpoint
# is loaded.
PRESETS: dict[str, dict[str, int]] = {
    "small": {"hidden": 64, "layers": 1, "channels": 8,
              "width": 32, "blocks": 2, "patch_bins": 4, "patch_frames": 2},
    "large": {"hidden": 512, "layers": 3, "channels": 32,
              "width": 96, "blocks": 6, "patch_bins": 4, "patch_frames": 2},
}
NETWORKS = ("auto", "blstm", "cdae", "convnext")
MATRIX_NETWORKS = ("blstm", "convnext")  # networks that need one block (a matrix form)
MASKS = ("sigmoid", "relu")
# A configuration may come from a model folder, which is data from someone else: its sizes
# are bounded before anything is allocated. Each bound is far above the "large" preset and
# the published models (Open-Unmix-L: hidden 1024, 3 layers); MAX_PARAMETERS bounds what they
# add up to over every branch (2 GB of float32 weights; "large" on a 4096-point STFT holds
# 9.5 M per branch).
MAX_SIZES: dict[str, int] = {"hidden": 4096, "layers": 8, "channels": 512,
                             "width": 1024, "blocks": 64, "patch_bins": 64, "patch_frames": 64}
MAX_PARAMETERS = 500_000_000
MAX_TARGETS = 64


class ModelConfigError(TfselectError, ValueError):
    """A model configuration that cannot be built (the CLI prints it on one line).

    Also a ValueError, as these errors were before, for callers that catch that.
    """


@dataclass
class ModelConfig:
    """Everything needed to rebuild a Demixer (stored in every checkpoint).

    specs: target -> transform spec (the keys are the target names, one branch each); text
    (a model folder, the command line) is read here, and :meth:`to_dict` writes each spec's
    canonical text. network: ``auto`` picks ``blstm`` for a transform with one block and
    ``cdae`` for ragged ones; ``blstm`` and ``convnext`` need one block, ``cdae`` takes any.
    target_networks: target -> network for the targets whose branch does not use ``network``
    (empty: one network for all, as every model folder stored before it existed).
    mask: ``sigmoid`` or ``relu``. residual: the targets do not cover the training mixtures
    (separation also writes ``residual``, mixture - targets). deoverlap: ragged branches
    whose spec is a key work on the overlap-added picture and go back to slices through a
    frozen DeOverlapNet.
    """

    specs: dict[str, TransformSpec]
    network: str = "auto"
    preset: str = "small"
    mask: str = "sigmoid"
    channels: int = 2
    sample_rate: int = SAMPLE_RATE
    sizes: dict[str, int] = field(default_factory=dict)
    # target -> sizes that override ``sizes`` for that branch alone (``compare`` tunes each
    # branch's width so that its parameter count matches the baseline's branch)
    target_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    residual: bool = False
    # spec -> configuration of the frozen DeOverlapNet of that ragged sliCQT, plus "source":
    # the folder it was read from (provenance only: the weights live in the model's own
    # state, so a model folder is self-contained)
    deoverlap: dict[str, dict] = field(default_factory=dict)
    target_networks: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self)
        self.sizes = {**PRESETS[self.preset], **self.sizes}

    def to_dict(self) -> dict:
        """The configuration as JSON-ready data, each spec as its canonical text."""
        # asdict would turn each spec into a dict of its fields: copy the fields one by one
        out = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {**out, "specs": {t: str(s) for t, s in self.specs.items()}}

    def network_of(self, target: str) -> str:
        """The network named for ``target``'s branch (``auto`` still unresolved)."""
        return self.target_networks.get(target, self.network)


def _check_fields(c: ModelConfig) -> None:
    """ModelConfigError (one line naming the field) for a field of the wrong type or range.

    A configuration comes from the command line or from a model folder, which is data from
    someone else: target names become file names and sizes become allocations, so every
    field is checked before anything is built (the target names by the one rule of
    :func:`~tfselect.audio.stem_files.is_target_name`). Specs given as text are replaced
    by the specs they read as.
    """
    if not isinstance(c.specs, dict) or not 1 <= len(c.specs) <= MAX_TARGETS:
        raise ModelConfigError(f"specs must map 1 to {MAX_TARGETS} target names to transform "
                               f"specs, got {_shown(c.specs)}")
    specs = {}
    for target, spec in c.specs.items():
        if not is_target_name(target):
            raise ModelConfigError(f"specs: {target!r} cannot name a target ({TARGET_NAME_RULE})")
        try:
            specs[target] = TransformSpec.parse(spec)  # text from a file or the command line
        except SpecError as exc:
            raise ModelConfigError(f"specs.{target}: {exc}") from None
    c.specs = specs
    for name, allowed in (("preset", tuple(PRESETS)), ("network", NETWORKS), ("mask", MASKS)):
        value = getattr(c, name)
        if not isinstance(value, str) or value not in allowed:
            raise ModelConfigError(f"{name} must be {' or '.join(allowed)}, got {_shown(value)}")
    # Every mixture reaches the model as 44.1 kHz stereo (data.py, separate.py).
    for name, want in (("channels", 2), ("sample_rate", SAMPLE_RATE)):
        if not _is_int(getattr(c, name)) or getattr(c, name) != want:
            raise ModelConfigError(f"{name} must be {want}, got {_shown(getattr(c, name))}")
    if not isinstance(c.residual, bool):
        raise ModelConfigError(f"residual must be true or false, got {_shown(c.residual)}")
    _check_sizes("sizes", c.sizes)
    if not isinstance(c.target_sizes, dict) or any(t not in c.specs for t in c.target_sizes):
        raise ModelConfigError("target_sizes must map targets of specs to sizes, got "
                               f"{_shown(c.target_sizes)}")
    for target, sizes in c.target_sizes.items():
        _check_sizes(f"target_sizes.{target}", sizes)
    if not isinstance(c.target_networks, dict) or any(
            t not in c.specs for t in c.target_networks):
        raise ModelConfigError("target_networks must map targets of specs to networks, got "
                               f"{_shown(c.target_networks)}")
    for target, network in c.target_networks.items():
        if not isinstance(network, str) or network not in NETWORKS:
            raise ModelConfigError(f"target_networks.{target} must be {' or '.join(NETWORKS)}, "
                                   f"got {_shown(network)}")
    if not isinstance(c.deoverlap, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in c.deoverlap.items()):
        raise ModelConfigError("deoverlap must map transform specs to de-overlap "
                               f"configurations, got {_shown(c.deoverlap)}")
    for spec in c.deoverlap:
        try:
            TransformSpec.parse(spec)
        except SpecError as exc:
            raise ModelConfigError(f"deoverlap: {exc}") from None


def _check_sizes(field: str, sizes: object) -> None:
    """ModelConfigError unless ``sizes`` maps known size names to integers within bounds."""
    if not isinstance(sizes, dict):
        raise ModelConfigError(f"{field} must map size names to integers, got {_shown(sizes)}")
    for name, value in sizes.items():
        if name not in MAX_SIZES:
            raise ModelConfigError(f"{field}: unknown size {name!r} (known: "
                                   f"{', '.join(MAX_SIZES)})")
        if not _is_int(value) or not 1 <= value <= MAX_SIZES[name]:
            raise ModelConfigError(f"{field}.{name} must be an integer in "
                                   f"[1, {MAX_SIZES[name]}], got {_shown(value)}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: object) -> str:
    """``repr(value)`` cut short: a message stays one readable line whatever a file holds."""
    return reprlib.repr(value)


class BLSTMNet(nn.Module):
    """Open-Unmix-style mask network on one block.

    Input/output (batch, channels, bins, time) magnitudes -> mask logits of the same shape:
    per frame ``fc(channels*bins -> hidden) -> LayerNorm -> tanh -> BLSTM`` with a skip
    connection, then ``fc -> LayerNorm -> ReLU -> fc(hidden -> channels*bins)``.
    """

    def __init__(self, channels: int, bins: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.channels, self.bins = channels, bins
        self.fc1 = nn.Linear(channels * bins, hidden, bias=False)
        self.norm1 = nn.LayerNorm(hidden)
        self.lstm = nn.LSTM(hidden, hidden // 2, num_layers=layers, bidirectional=True,
                            batch_first=True, dropout=0.4 if layers > 1 else 0.0)
        self.fc2 = nn.Linear(2 * hidden, hidden, bias=False)
        self.norm2 = nn.LayerNorm(hidden)
        self.fc3 = nn.Linear(hidden, channels * bins)

    def forward(self, m: Tensor) -> Tensor:
        b, c, f, t = m.shape
        h = m.permute(0, 3, 1, 2).reshape(b, t, c * f)  # (batch, time, channels*bins)
        h = torch.tanh(self.norm1(self.fc1(h)))
        h = torch.cat([h, self.lstm(h)[0]], -1)  # skip connection as in Open-Unmix
        h = torch.relu(self.norm2(self.fc2(h)))
        h = self.fc3(h)
        return h.reshape(b, t, c, f).permute(0, 2, 3, 1)


class CDAENet(nn.Module):
    """xumx-sliCQ-style convolutional denoising auto-encoder for one block.

    (batch, channels, bins, time) -> mask logits of the same shape. Two strided Conv2d
    encoder layers, two ConvTranspose2d decoder layers (told the exact output size, so any
    bins/time size works, including a single bin) with a skip connection.
    """

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        k, s, p = (3, 5), (2, 2), (1, 2)
        self.enc1 = nn.Conv2d(channels, width, k, s, p)
        self.enc2 = nn.Conv2d(width, 2 * width, k, s, p)
        self.dec2 = nn.ConvTranspose2d(2 * width, width, k, s, p)
        self.dec1 = nn.ConvTranspose2d(2 * width, channels, k, s, p)
        self.n1, self.n2, self.n3 = (nn.GroupNorm(1, w) for w in (width, 2 * width, width))

    def forward(self, m: Tensor) -> Tensor:
        e1 = torch.relu(self.n1(self.enc1(m)))
        e2 = torch.relu(self.n2(self.enc2(e1)))
        d2 = torch.relu(self.n3(self.dec2(e2, output_size=e1.shape[-2:])))
        return self.dec1(torch.cat([d2, e1], 1), output_size=m.shape[-2:])


def block_bins(transform: nn.Module, channels: int, sample_rate: int) -> list[int]:
    """Bins per block of ``transform`` (one entry for a matrix form), probed on 1 s of silence."""
    probe = transform(torch.zeros(1, channels, sample_rate))
    return [int(c.shape[-3]) for c in probe]


def network_family(
    network: str, spec: TransformSpec, bins: list[int], target: str | None = None
) -> str:
    """The network of a branch: ``auto`` is ``blstm`` on one block and ``cdae`` on several;
    ModelConfigError when a matrix network meets a ragged transform (naming ``target``, when
    given, and the forms and networks that would do)."""
    family = network
    if family == "auto":
        family = "blstm" if len(bins) == 1 else "cdae"
    if family in MATRIX_NETWORKS and len(bins) != 1:
        raise ModelConfigError(matrix_refusal(family, spec, len(bins), target))
    return family


def matrix_refusal(network: str, spec: TransformSpec, blocks: int, target: str | None = None,
                   options: bool = False, member: tuple[int, str] | None = None) -> str:
    """The one-line refusal of ``network`` (a matrix network) on ``spec``, which has
    ``blocks`` blocks: which target (when given), which spec, and what would work instead
    (as train-best's options when ``options``). ``member``: (k, the ``ens:`` spec) when
    ``spec`` is that ensemble's k-th member."""
    if spec.kind == "slicqt":
        fix, also = str(dataclasses.replace(spec, form="rasterize")), " (or form=zeropad)"
    elif spec.kind in ("nsgt", "nsgcq"):
        fix, also = str(dataclasses.replace(spec, rasterize="full")), ""
    else:  # mrstft: one STFT block per band, each of its own size
        fix, also = None, f" ({spec.kind} has no matrix form)"
    fixes = [f"{'that member as ' if member else ''}{fix}{also}"] if fix else []
    if options and target is not None:
        if fix and not member:
            fixes = [f"--spec {target}={fix}{also}"]
        fixes.append(f"--network {target}=cdae (or auto){also if not fix else ''}")
    else:
        fixes.append(f"network cdae or auto{also if not fix else ''}")
    head = f"{target}: " if target is not None else ""
    what = f"member {member[0]} of {member[1]}, {spec}," if member else spec
    return (f"{head}network {network} needs a matrix form (one block) but {what} has {blocks} "
            f"blocks; would work: {', or '.join(fixes)}")


def check_networks(specs: Mapping[str, str | TransformSpec], networks: Mapping[str, str],
                   sample_rate: int = SAMPLE_RATE, channels: int = 2) -> None:
    """ModelConfigError (one line: the target, its spec, what would work) unless every
    target's network can take its transform's form (every member's, for an ``ens:`` spec).
    Only the transforms of matrix networks are built (and probed on 1 s of silence, as a
    branch does); nothing is written."""
    probed: dict[TransformSpec, int] = {}
    for target, text in specs.items():
        network = networks.get(target, "auto")
        if network not in MATRIX_NETWORKS:
            continue  # auto and cdae take every form
        spec = TransformSpec.parse(text)  # best.csv, a study or --spec
        members = member_specs(spec)
        for k, member in enumerate(members or [spec], 1):
            if member not in probed:
                probed[member] = len(block_bins(build(member, sample_rate), channels,
                                                sample_rate))  # fmt: skip
            if probed[member] == 1:
                continue
            where = (k, spec) if members is not None else None
            raise ModelConfigError(matrix_refusal(network, member, probed[member], target,
                                                  True, where))  # fmt: skip


def parse_networks(value: str | Mapping[str, str], targets: Sequence[str]) -> dict[str, str]:
    """``--network``: {target: network} for every one of ``targets``.

    ``value`` is one network for all targets (``convnext``) or comma-separated
    ``TARGET=NETWORK`` items (``vocals=convnext,bass=blstm``; the targets not named get
    ``auto``), or already such a mapping. TfselectError (one line) for a malformed item, a
    target named twice or not among ``targets``, or an unknown network.
    """
    known = " or ".join([", ".join(NETWORKS[:-1]), NETWORKS[-1]])
    if isinstance(value, str):
        text = value.strip()
        if "=" not in text:
            if text not in NETWORKS:
                raise TfselectError(f"--network must be {known}, got {value!r}")
            return dict.fromkeys(targets, text)
        items: dict[str, str] = {}
        for item in text.split(","):
            target, sep, network = (part.strip() for part in item.partition("="))
            if not sep or not target or not network:
                raise TfselectError(f"--network takes one network for all targets or "
                                    f"TARGET=NETWORK items separated by commas, got {value!r}")
            if target in items:
                raise TfselectError(f"--network names {target!r} twice in {value!r}")
            items[target] = network
    else:
        items = dict(value)
    for target, network in items.items():
        if target not in targets:
            raise TfselectError(f"--network {target}={network}: no target {target!r} in this "
                                f"model (its targets: {', '.join(targets)})")
        if network not in NETWORKS:
            raise TfselectError(f"--network {target}={network}: unknown network {network!r} "
                                f"(known: {', '.join(NETWORKS)})")
    return {t: items.get(t, "auto") for t in targets}


def split_networks(networks: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """{target: network} as ModelConfig stores it: (network, target_networks). One network
    for all targets is stored as before per-target networks existed (so such a model folder
    stays identical, and resumes); else ``auto`` plus the targets that are not ``auto``."""
    names = set(networks.values())
    if len(names) <= 1:
        return (names.pop() if names else "auto"), {}
    return "auto", {t: n for t, n in networks.items() if n != "auto"}


def make_nets(family: str, channels: int, bins: list[int], sizes: dict[str, int]) -> list:
    """The mask networks of one branch: one for a matrix network, one CDAE per block."""
    if family == "blstm":
        return [BLSTMNet(channels, bins[0], sizes["hidden"], sizes["layers"])]
    if family == "convnext":
        return [ConvNeXtNet(channels, sizes["width"], sizes["blocks"], sizes["patch_bins"],
                            sizes["patch_frames"])]
    return [CDAENet(channels, sizes["channels"]) for _ in bins]


def count_parameters(family: str, bins: list[int], sizes: dict[str, int],
                     channels: int = 2) -> int:
    """Trainable parameters of one branch's networks, counted on the meta device: nothing is
    allocated, so a size read from a file, or a large candidate size, costs nothing."""
    with torch.device("meta"):
        return sum(p.numel() for net in make_nets(family, channels, bins, sizes)
                   for p in net.parameters())


def matrix_form(spec: str, network: str) -> str:
    """``spec`` as ``network`` can take it: for a matrix network a ragged sliCQT becomes
    ``form=rasterize`` (the same frame, every block interpolated to one time grid); other
    specs, and every spec of ``cdae``, are unchanged. Canonical string."""
    parsed = TransformSpec.parse(spec)
    if parsed.kind == "ens":  # each member is a branch of its own
        return "ens:" + "+".join(matrix_form(str(m), network) for m in parsed.members)
    if network in MATRIX_NETWORKS and parsed.kind == "slicqt" and parsed.form == "ragged":
        parsed = dataclasses.replace(parsed, form="rasterize")
    return str(parsed)


class Branch(nn.Module):
    """One target: its transform, one network per block, mask, inverse.

    ``forward(x)`` maps the mixture (batch, channels, samples) to the estimate of the same
    shape; ``masks(x)`` also returns the list of masks, one per block (batch, channels,
    bins_b, slices, frames_b).
    """

    def __init__(self, spec: TransformSpec, config: ModelConfig,
                 sizes: dict[str, int] | None = None, budget: int = MAX_PARAMETERS,
                 target: str | None = None) -> None:
        """``sizes``: this branch's network sizes (default ``config.sizes``); ``budget``: the
        most parameters its networks may hold (checked before they are allocated, so that a
        model folder cannot make us allocate what it likes); ``target``: whose branch this
        is (its network is ``config.network_of(target)``; None: ``config.network``)."""
        super().__init__()
        self.spec = spec
        self.transform = build(spec, config.sample_rate)
        self.mask_kind = config.mask
        bins = block_bins(self.transform, config.channels, config.sample_rate)
        network = config.network if target is None else config.network_of(target)
        self.family = network_family(network, spec, bins, target)
        sizes = sizes or config.sizes
        count = count_parameters(self.family, bins, sizes, config.channels)
        if count > budget:
            raise ModelConfigError(
                f"sizes: the {self.family} networks on {spec} would hold {count:,} parameters; "
                f"a model may hold {MAX_PARAMETERS:,} in all"
            )
        self.nets = nn.ModuleList(make_nets(self.family, config.channels, bins, sizes))
        self.deoverlap = _deoverlap_net(spec, config)
        self.amp = False  # set by the trainer: autocast the networks (not the transforms)

    def masks(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(coefficients, masks), both lists of blocks (batch, channels, bins_b, slices, fr_b)."""
        C = self.transform(x)
        if self.deoverlap is not None:  # blocks (batch, ch, bins, (slices+1)·frames/2)
            C = self.deoverlap.overlap.ola(C)
        M = []
        for net, c in zip(self.nets, C, strict=True):
            shape = c.shape
            mag = torch.log1p(c.abs())
            if mag.dim() == 5:  # (batch, ch, bins, slices*frames)
                mag = mag.flatten(-2)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.amp):
                logits = net(mag)
            logits = logits.float().reshape(shape)
            M.append(torch.sigmoid(logits) if self.mask_kind == "sigmoid" else torch.relu(logits))
        return C, M

    def forward(self, x: Tensor) -> Tensor:
        C, M = self.masks(x)
        Y = [m * c for m, c in zip(M, C, strict=True)]
        if self.deoverlap is not None:
            Y = self.deoverlap(Y)
        return self.transform.inverse(Y, x.shape[-1])


def make_branch(spec: TransformSpec, config: ModelConfig, sizes: dict[str, int] | None = None,
                budget: int = MAX_PARAMETERS, target: str | None = None) -> nn.Module:
    """A target's branch: a :class:`Branch`, or for an ``ens:`` spec an
    :class:`~tfselect.demix.members.EnsembleBranch` of one Branch per member (each with
    ``sizes`` and ``target``'s network, all within ``budget``). ModelConfigError names the
    member that cannot be built.
    """
    members = member_specs(spec)
    if members is None:
        return Branch(spec, config, sizes, budget, target)
    branches = []
    for k, member in enumerate(members, 1):
        try:
            branch = Branch(member, config, sizes, budget, target)
        except ModelConfigError as exc:
            head = f"{target}: " if target is not None else ""
            what = str(exc).removeprefix(head)
            raise ModelConfigError(f"{head}{spec}: member {k}: {what}") from None
        budget -= sum(p.numel() for p in branch.nets.parameters())
        branches.append(branch)
    return EnsembleBranch(spec, branches)


def _deoverlap_net(spec: TransformSpec, config: ModelConfig) -> nn.Module | None:
    """The frozen DeOverlapNet of a branch whose spec is in ``config.deoverlap``, else None.

    Built from the stored configuration with zero weights (nothing is read from disk): the
    trainer loads the pre-trained ones once (:meth:`Demixer.load_deoverlap`), and from then
    on they are part of the model's own state.
    """
    entry = _deoverlap_entry(config, spec)
    if entry is None:
        return None

    net = DeOverlapNet(DeOverlapConfig(**{k: v for k, v in entry.items() if k != "source"}))
    net.requires_grad_(False)
    return net


def _deoverlap_entry(config: ModelConfig, spec: TransformSpec) -> dict | None:
    """The entry of ``config.deoverlap`` whose key (a spec's text: a JSON key) is the same
    transform as ``spec``."""
    return next((e for k, e in config.deoverlap.items()
                 if _same_spec(k, spec, config.sample_rate)), None)


class Demixer(nn.Module):
    """One branch per target of ``config.specs`` (MUSDB's names in ``TARGETS`` order first).

    ``forward(x)``: mixture (batch, channels, samples) -> (batch, targets, channels, samples).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.targets = [t for t in TARGETS if t in config.specs] + [
            t for t in config.specs if t not in TARGETS
        ]
        branches, left = {}, MAX_PARAMETERS
        for t in self.targets:
            sizes = {**config.sizes, **config.target_sizes.get(t, {})}
            branches[branch_key(t)] = branch = make_branch(config.specs[t], config, sizes, left,
                                                           t)
            left -= sum(p.numel() for p in branch.nets.parameters())
        self.branches = nn.ModuleDict(branches)

    def load_deoverlap(self) -> None:
        """Fill every branch's frozen DeOverlapNet from its ``source`` folder (fresh training)."""
        # every Branch, an ensemble target's members included
        for branch in (m for m in self.modules() if isinstance(m, Branch)):
            if branch.deoverlap is None:
                continue
            entry = _deoverlap_entry(self.config, branch.spec)
            src = load_net(entry["source"])
            if src.config.to_dict() != branch.deoverlap.config.to_dict():
                raise ModelConfigError(f"the de-overlap model in {entry['source']} changed "
                                       "since the configuration was made")
            branch.deoverlap.load_state_dict(src.state_dict())

    def set_amp(self, enabled: bool) -> None:
        for b in self.branches.values():
            b.amp = enabled

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([self.branches[branch_key(t)](x) for t in self.targets], 1)


def _same_spec(key: str, spec: TransformSpec, sample_rate: int) -> bool:
    return TransformSpec.parse(key).resolved(sample_rate) == spec.resolved(sample_rate)


def branch_key(target: str) -> str:
    """The ModuleDict key of a target's branch: the name itself, unless it would clash with an
    attribute of the module (``keys``, ``train``, ...) or hold a dot; then ``target:<name>``.
    (MUSDB's names stay plain, so their checkpoints keep their parameter names.)"""
    if "." in target or hasattr(nn.ModuleDict, target) or target.startswith("target:"):
        return "target:" + target.replace(".", "_")
    return target


def baseline_network(baseline: str, network: str) -> str:
    """The network of a baseline: the STFT baseline is Open-Unmix, so ``auto`` is a BLSTM
    there; any other choice (and every other baseline's) is kept."""
    return "blstm" if baseline == "stft" and network == "auto" else network


def baseline_specs(baseline: str, shared_spec: str | None = None,
                   network: str | Mapping[str, str] = "auto") -> dict[str, str]:
    """Specs of a baseline: ``shared-slicqt`` (one sliCQT for all targets) or ``stft``.

    ``network``: one network, or {target: network}: a ragged shared sliCQT becomes its
    rasterized matrix form for the targets of a matrix network.
    """
    if baseline == "stft":
        return {t: STFT_BASELINE for t in TARGETS}
    if baseline == "shared-slicqt":
        nets = network if isinstance(network, Mapping) else dict.fromkeys(TARGETS, network)
        return {t: matrix_form(shared_spec or SHARED_SLICQT, nets.get(t, "auto"))
                for t in TARGETS}
    raise ModelConfigError(f"baseline must be shared-slicqt or stft, got {baseline!r}")
