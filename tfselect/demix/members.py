"""Ensemble targets in the demixer: one branch per member, their waveforms averaged.

A target whose spec is ``ens:A+B[+C]`` gets one ordinary branch per member (its own
transform, its own mask networks: ``auto`` picks a BLSTM for a one-block member and the
per-block CDAE for a ragged one), and its estimate is the plain mean of the members'
waveform estimates -- the demixer's counterpart of :class:`tfselect.transforms.ensemble.
Ensemble`, whose inverse is the mean of the members' inverses. Nothing is learned in the
combination, as in the transform: a learned weighting could let one member take over.

Losses: the X-UMX losses are computed in one shared STFT on each target's *waveform
estimate*, and for an ensemble target that is the averaged waveform, so every member is
trained jointly, through the mean (each member's gradient is the average's, divided by the
number of members). That is the estimate that is evaluated and written by ``separate``,
so the members learn to complement each other, which is where averaging gains (errors that
are partly independent cancel). The alternative, a loss on each member's own waveform,
would train each member to be the best separator alone, pulling the members towards the
same solution (less to cancel in the mean), and would cost one pass of the shared-STFT
losses per member; it is not done. Joint training can let members co-adapt (one member
correcting another's systematic error), which is harmless: only the mean is ever used.

The model folder stores the ``ens:`` spec string only; loading rebuilds the members from it,
and their weights sit under ``<target>.members.<k>.`` in the state dict.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from tfselect.transforms import TransformSpec


def member_specs(spec: TransformSpec) -> list[TransformSpec] | None:
    """The member specs of an ``ens:`` spec, in order; None for any other kind."""
    return list(spec.members) if spec.kind == "ens" else None


class EnsembleBranch(nn.Module):
    """One ensemble target: ``forward(x)`` is the mean of the member branches' forwards.

    Args:
        spec: the ``ens:`` spec (kept as the branch's ``spec``).
        members: one branch per member, in the spec's order; each maps the mixture
            (batch, channels, samples) to an estimate of the same shape and has ``nets``
            (its mask networks), ``family`` and ``amp`` (see ``model.Branch``).
    """

    def __init__(self, spec: TransformSpec, members: list[nn.Module]) -> None:
        super().__init__()
        self.spec = spec
        self.members = nn.ModuleList(members)
        self.deoverlap = None  # the members hold their own (model.Demixer.load_deoverlap)

    @property
    def family(self) -> str:
        """The members' networks joined by ``+``, e.g. ``blstm+cdae``."""
        return "+".join(m.family for m in self.members)

    @property
    def nets(self) -> nn.ModuleList:
        """Every member's mask networks, member by member (a view: registered once, under
        ``members``)."""
        return nn.ModuleList(net for m in self.members for net in m.nets)

    @property
    def amp(self) -> bool:
        return all(m.amp for m in self.members)

    @amp.setter
    def amp(self, enabled: bool) -> None:
        for m in self.members:
            m.amp = enabled

    def masks(self, x: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """(coefficients, masks) of every member, blocks side by side in member order (the
        ``Ensemble`` transform's order)."""
        C, M = [], []
        for m in self.members:
            c, mask = m.masks(x)
            C.extend(c)
            M.extend(mask)
        return C, M

    def forward(self, x: Tensor) -> Tensor:
        """Mixture (batch, channels, samples) -> the members' mean estimate, same shape."""
        return torch.stack([m(x) for m in self.members]).mean(0)
