"""ConvNeXt mask estimator for one matrix block (Liu et al. 2022, "A ConvNet for the 2020s").

``ConvNeXtNet`` maps log-magnitudes (batch, channels, bins, time) to mask logits of exactly
the same shape, for any bins/time size (a single bin or frame included):

- stem: the input is zero-padded at the high-bin / late-frame ends to a multiple of the patch
  size and cut into non-overlapping patches (``Conv2d`` with kernel = stride = patch), as
  ConvNeXt's "patchify" stem; this is what keeps a full-resolution STFT trainable on a CPU;
- ``blocks`` ConvNeXt blocks at that resolution: depthwise 7x7 ``Conv2d`` -> LayerNorm over
  the channels -> pointwise ``4 * width`` -> GELU -> pointwise back -> layer scale ->
  residual;
- head: LayerNorm, then the transposed patchify (``ConvTranspose2d`` with kernel = stride =
  patch), cropped back to the input's size, so every bin and frame gets its own logit.

No BatchNorm: each example is processed independently of the batch, as in the other networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ChannelNorm(nn.Module):
    """LayerNorm over the channel axis of (batch, channels, bins, time)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """One ConvNeXt block on (batch, dim, bins, time); output of the same shape.

    ``layer_scale``: initial value of the per-channel scale of the residual branch (ConvNeXt's
    1e-6 makes every block start as the identity); 0 leaves the scale out.
    """

    def __init__(self, dim: int, kernel: int = 7, expansion: int = 4,
                 layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        # Pointwise convolutions written as Linear on channels-last tensors, as ConvNeXt does.
        self.pwconv1 = nn.Linear(dim, expansion * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(expansion * dim, dim)
        self.gamma = (nn.Parameter(torch.full((dim,), float(layer_scale)))
                      if layer_scale > 0 else None)

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)  # (batch, bins, time, dim)
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        if self.gamma is not None:
            h = h * self.gamma
        return x + h.permute(0, 3, 1, 2)


class ConvNeXtNet(nn.Module):
    """ConvNeXt mask network for one block: (batch, channels, bins, time) -> same shape.

    ``width`` channels inside, ``blocks`` ConvNeXt blocks, patches of ``patch_bins`` bins by
    ``patch_frames`` frames (1 x 1: full resolution).
    """

    def __init__(self, channels: int, width: int, blocks: int, patch_bins: int = 4,
                 patch_frames: int = 2, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.patch = (patch_bins, patch_frames)
        self.stem = nn.Conv2d(channels, width, self.patch, stride=self.patch)
        self.stem_norm = ChannelNorm(width)
        self.blocks = nn.Sequential(*(ConvNeXtBlock(width, layer_scale=layer_scale)
                                      for _ in range(blocks)))
        self.head_norm = ChannelNorm(width)
        self.head = nn.ConvTranspose2d(width, channels, self.patch, stride=self.patch)

    def forward(self, m: Tensor) -> Tensor:
        f, t = m.shape[-2:]
        pf, pt = self.patch
        # Pad to whole patches (zeros = log1p of silence), crop the logits back afterwards.
        h = F.pad(m, (0, -t % pt, 0, -f % pf))
        h = self.stem_norm(self.stem(h))
        h = self.head_norm(self.blocks(h))
        return self.head(h)[..., :f, :t]
