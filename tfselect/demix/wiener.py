"""Multichannel Wiener-EM post-filter in the shared STFT domain (as in Open-Unmix).

Written here because the openunmix package cannot be installed beside CPU torch (it pulls
a CUDA torchaudio). The model is the local Gaussian model of Duong et al. (2010) / Nugraha
et al. (2016): each source j has, per frame and bin, a power spectral density v_j(f, t) and a
time-invariant spatial covariance R_j(f) (channels x channels). One EM iteration re-estimates
(v_j, R_j) from the current source images and then applies the multichannel Wiener gain
``G_j = v_j R_j (sum_k v_k R_k)^-1`` to the mixture.

Shapes: ``mix`` (..., channels, bins, frames) complex; ``mags`` (..., sources, channels,
bins, frames) non-negative magnitude estimates; result (..., sources, channels, bins,
frames) complex.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tfselect.demix.shared_stft import SharedSTFT


def _local_gaussian_model(y: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """PSD v (..., J, F, T) and spatial covariance R (..., J, F, C, C) from images y.

    y: (..., J, C, F, T) complex. ``R_j(f) = sum_t y y^H / sum_t v_j`` (Open-Unmix's
    ``get_local_gaussian_model``).
    """
    v = y.abs().pow(2).mean(-3)  # (..., J, F, T): mean power over channels
    yt = y.movedim(-3, -1)  # (..., J, F, T, C)
    R = torch.einsum("...ftc,...ftd->...fcd", yt, yt.conj())  # (..., J, F, C, C)
    R = R / (eps + v.sum(-1))[..., None, None]
    return v, R


def wiener(mags: Tensor, mix: Tensor, iterations: int = 1, softmask: bool = False,
           eps: float = 1e-10, scale_factor: float = 10.0) -> Tensor:
    """Wiener-EM filtering of magnitude estimates ``mags`` against the mixture STFT ``mix``.

    Initial images are the estimates with the mixture's phase (or ratio soft masks of the
    mixture with ``softmask=True``); each of ``iterations`` EM steps refines them. With
    ``iterations=0`` only the initialisation is returned.
    """
    mix = mix.unsqueeze(-4)  # (..., 1, C, F, T)
    if softmask:
        y = mix * (mags / (eps + mags.sum(-4, keepdim=True)))
    else:
        y = mags * torch.exp(1j * torch.angle(mix))
    if iterations == 0:
        return y
    # Rescale so the regularisation eps means the same for loud and quiet inputs.
    max_abs = torch.clamp(mix.abs().amax() / scale_factor, min=1.0)
    x, y = mix.squeeze(-4) / max_abs, y / max_abs
    xt = x.movedim(-3, -1)  # (..., F, T, C)
    for _ in range(iterations):
        v, R = _local_gaussian_model(y, eps)
        # Cxx(f, t) = sum_j v_j(f, t) R_j(f) + eps I: (..., F, T, C, C)
        Cxx = torch.einsum("...jft,...jfcd->...ftcd", v.to(R.dtype), R)
        Cxx.diagonal(dim1=-2, dim2=-1).add_(eps)  # + eps I, without building I
        inv = torch.linalg.inv(Cxx)
        # G_j = v_j R_j Cxx^-1, y_j = G_j x
        G = torch.einsum("...jft,...jfcd,...ftde->...jftce", v.to(R.dtype), R, inv)
        y = torch.einsum("...jftce,...fte->...jcft", G, xt)
    return y * max_abs


def wiener_waveforms(estimates: Tensor, mixture: Tensor, stft: SharedSTFT,
                     iterations: int = 1) -> Tensor:
    """Post-filter waveform estimates (..., J, C, N) of mixture (..., C, N) in ``stft``.

    Returns filtered waveforms of the same shape. Runs in float64 internally: the 2x2
    covariance inverses are ill-conditioned in near-silent bins.
    """
    n = mixture.shape[-1]
    X = stft(mixture.double())
    V = stft(estimates.double()).abs()
    Y = wiener(V, X, iterations=iterations)
    return stft.inverse(Y, n).to(estimates.dtype)
