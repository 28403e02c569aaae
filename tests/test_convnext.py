"""ConvNeXt branches: shapes for every matrix form, overfitting one clip, gradients, save/load."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.demix.convnext import ConvNeXtBlock, ConvNeXtNet
from tfselect.demix.model import Demixer, ModelConfig
from tfselect.errors import TfselectError

STFT = "stft:n_fft=512,hop=128"
BARK = "slicqt:scale=bark,bins=24,fmin=40,fmax=22050"
MATRIX_FORMS = [STFT, BARK + ",form=zeropad", BARK + ",form=rasterize"]


def _needs(spec: str) -> None:
    if spec.startswith("slicqt"):
        pytest.importorskip("tfselect.transforms.slicqt")


@pytest.mark.parametrize("spec", MATRIX_FORMS)
def test_masks_have_the_coefficients_shape_for_every_matrix_form(spec):
    _needs(spec)
    m = Demixer(ModelConfig(specs={"vocals": spec, "bass": spec}, network="convnext"))
    assert all(b.family == "convnext" for b in m.branches.values())
    x = torch.randn(2, 2, 20000)
    C, M = m.branches["vocals"].masks(x)
    assert len(C) == 1 and M[0].shape == C[0].shape
    assert ((M[0] >= 0) & (M[0] <= 1)).all()
    y = m(x)
    assert y.shape == (2, 2, 2, 20000) and torch.isfinite(y).all()


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (5, 1), (7, 13), (8, 6), (33, 17)])
def test_any_block_size_gives_logits_of_that_size(shape):
    """Odd sizes and sizes below one patch: padded to whole patches, cropped back."""
    net = ConvNeXtNet(2, width=8, blocks=1, patch_bins=4, patch_frames=2)
    m = torch.rand(3, 2, *shape)
    assert net(m).shape == m.shape


def test_block_matches_its_formula():
    """depthwise 7x7 -> LayerNorm over channels -> 4x pointwise -> GELU -> pointwise -> scale,
    added to the input; written with torch.nn.functional on channels-first tensors."""
    block = ConvNeXtBlock(6, layer_scale=0.5)
    for p in block.parameters():
        p.data = torch.randn_like(p)
    x = torch.randn(2, 6, 9, 11)
    h = F.conv2d(x, block.dwconv.weight, block.dwconv.bias, padding=3, groups=6)
    mu, var = h.mean(1, keepdim=True), h.var(1, keepdim=True, unbiased=False)
    h = (h - mu) / torch.sqrt(var + 1e-5)
    h = h * block.norm.weight[:, None, None] + block.norm.bias[:, None, None]
    h = F.conv2d(h, block.pwconv1.weight[:, :, None, None], block.pwconv1.bias)
    h = 0.5 * h * (1 + torch.erf(h / 2**0.5))
    h = F.conv2d(h, block.pwconv2.weight[:, :, None, None], block.pwconv2.bias)
    torch.testing.assert_close(block(x), x + block.gamma[:, None, None] * h,
                               rtol=1e-4, atol=1e-4)
    # with a zero scale the block is exactly the identity (the residual path)
    block.gamma.data.zero_()
    assert torch.equal(block(x), x)


def test_examples_are_processed_independently_of_the_batch():
    net = ConvNeXtNet(2, width=8, blocks=2).train()
    m = torch.rand(3, 2, 21, 10)
    whole = net(m)
    alone = torch.cat([net(m[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(whole, alone, rtol=1e-5, atol=1e-6)


def test_a_logit_depends_on_its_neighbourhood_only():
    """Receptive field: one patch + a 7x7 depthwise kernel per block, nothing beyond."""
    net = ConvNeXtNet(1, width=4, blocks=1, patch_bins=2, patch_frames=2, layer_scale=1.0)
    m = torch.zeros(1, 1, 40, 40, requires_grad=True)
    net(m)[0, 0, 20, 20].backward()
    rows = m.grad[0, 0].abs().sum(1).nonzero().flatten()
    # output bin 20 is in patch 10; the block sees patches 7..13, i.e. bins 14..27
    assert rows.min() == 14 and rows.max() == 27


def test_gradients_reach_the_mixture():
    m = Demixer(ModelConfig(specs={"vocals": STFT, "drums": STFT}, network="convnext"))
    x = (0.1 * torch.randn(1, 2, 8000)).requires_grad_()
    m(x).pow(2).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # ... and every parameter gets a gradient (layer scale included)
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_bf16_autocast_stays_close_to_float32():
    m = Demixer(ModelConfig(specs={"vocals": STFT}, network="convnext")).eval()
    for p in m.parameters():  # move the layer scales away from ~0 so the blocks matter
        p.data += 0.05 * torch.randn_like(p)
    x = 0.1 * torch.randn(1, 2, 8000)
    with torch.no_grad():
        ref = m.branches["vocals"].masks(x)[1][0]
        m.set_amp(True)
        amp = m.branches["vocals"].masks(x)[1][0]
    assert amp.dtype == torch.float32
    assert (amp - ref).abs().max() < 0.05 and (amp - ref).abs().mean() < 0.01


def _mags(x: torch.Tensor) -> torch.Tensor:
    """|STFT| (512/128, periodic Hann) of (..., samples), from torch.stft."""
    w = torch.hann_window(512)
    return torch.stft(x.reshape(-1, x.shape[-1]), 512, 128, window=w, return_complex=True).abs()


def test_overfits_one_clip(clips):
    """40 Adam steps on one 1-s clip of the demo corpus must beat the best *constant* mask by
    far (0.10 of its loss here): a net whose blocks or mask path do not work stays near that
    loss (without the blocks: 0.76)."""
    clip = clips(seconds=1.0, target="vocals", skip_silent=True)[0]
    mix = torch.from_numpy(clip.mixture)[None]
    target = torch.from_numpy(clip.stems["vocals"])[None]
    X, S = _mags(mix), _mags(target)
    g = (X * S).sum() / (X * X).sum()  # least-squares scalar mask, clipped like a sigmoid's
    constant = float((g.clamp(0, 1) * X - S).pow(2).mean())
    m = Demixer(ModelConfig(specs={"vocals": STFT}, network="convnext"))
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    losses = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small tensors: extra threads only contend on shared CI cores
    try:
        for _ in range(40):
            loss = (_mags(m(mix)[:, 0]) - S).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    finally:
        torch.set_num_threads(threads)
    print(f"constant mask {constant:.3g}; loss {losses[0]:.3g} -> {min(losses):.3g}")
    assert min(losses) < 0.3 * constant
    assert min(losses) < 0.1 * losses[0]


def test_save_and_load_give_identical_outputs(tmp_path):
    from tfselect.demix.model_files import MODEL, load_model
    from tfselect.demix.tensorfile import save_state

    cfg = ModelConfig(specs={"vocals": STFT, "other": "stft:n_fft=256,hop=64"},
                      network="convnext", sizes={"width": 12, "blocks": 3})
    m = Demixer(cfg).eval()
    for p in m.parameters():
        p.data += 0.05 * torch.randn_like(p)
    save_state({"model_config": cfg.to_dict(), "state_dict": m.state_dict()}, tmp_path / MODEL)
    back = load_model(tmp_path)
    assert back.config.sizes == cfg.sizes and back.config.network == "convnext"
    assert back.branches["vocals"].nets[0].blocks[2].pwconv1.out_features == 48
    x = torch.randn(1, 2, 6000)
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x), rtol=0, atol=0)


def test_a_ragged_slicqt_needs_a_matrix_form(tmp_path, demo_root):
    pytest.importorskip("tfselect.transforms.slicqt")
    with pytest.raises(TfselectError, match="network convnext needs a matrix form"):
        Demixer(ModelConfig(specs={"vocals": BARK}, network="convnext"))
    r = CliRunner().invoke(app, ["train-best", "--out", str(tmp_path / "m"), "--root",
                                 str(demo_root), "--network", "convnext", "--spec",
                                 f"vocals={BARK}", "--spec", f"drums={STFT}"])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("tfselect: error: ") and r.output.count("\n") == 1
    assert "network convnext needs a matrix form" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "m" / "model.safetensors").exists()


def test_shared_slicqt_baseline_gives_convnext_a_matrix_form():
    from tfselect.demix.model import baseline_specs
    from tfselect.transforms import TransformSpec

    for spec in baseline_specs("shared-slicqt", network="convnext").values():
        assert TransformSpec.parse(spec).form == "rasterize"


def test_a_configuration_saved_before_convnext_gets_the_presets_sizes():
    """Checkpoints written before ConvNeXt existed store only the older sizes."""
    old = {"hidden": 64, "layers": 1, "channels": 8}
    cfg = ModelConfig(specs={"vocals": STFT}, network="blstm", sizes=dict(old))
    assert cfg.sizes == {**old, "width": 32, "blocks": 2, "patch_bins": 4, "patch_frames": 2}


# --------------------------------------------------------------- padding, against a reference


def _reference_forward(net: ConvNeXtNet, m: torch.Tensor) -> torch.Tensor:
    """The module docstring written out: zeros appended after the last bin and frame up to
    whole patches, patchify, LayerNorm over channels, the blocks, LayerNorm, transposed
    patchify, then the first ``bins`` x ``frames`` logits."""
    (pf, pt), (f, t) = net.patch, m.shape[-2:]
    padded = torch.zeros(*m.shape[:-2], -(-f // pf) * pf, -(-t // pt) * pt)
    padded[..., :f, :t] = m

    def channel_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
        mu, var = x.mean(1, keepdim=True), x.var(1, keepdim=True, unbiased=False)
        return ((x - mu) / torch.sqrt(var + norm.eps) * norm.weight[:, None, None]
                + norm.bias[:, None, None])

    h = F.conv2d(padded, net.stem.weight, net.stem.bias, stride=net.patch)
    h = channel_norm(h, net.stem_norm.norm)
    h = channel_norm(net.blocks(h), net.head_norm.norm)
    out = F.conv_transpose2d(h, net.head.weight, net.head.bias, stride=net.patch)
    return out[..., :f, :t]


@pytest.mark.parametrize("shape, patch", [((7, 13), (4, 2)), ((5, 1), (4, 2)), ((1, 9), (4, 2)),
                                          ((9, 6), (4, 2)), ((3, 3), (4, 2)),
                                          ((7, 8), (3, 3)), ((4, 10), (2, 3))])
def test_outputs_on_sizes_that_need_padding_match_the_reference(shape, patch):
    net = ConvNeXtNet(2, width=8, blocks=1, patch_bins=patch[0], patch_frames=patch[1],
                      layer_scale=1.0)
    for p in net.parameters():
        p.data = torch.randn_like(p) * 0.5
    m = torch.rand(2, 2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(net(m), _reference_forward(net, m), rtol=1e-4, atol=1e-5)


def _jacobian_support(net: ConvNeXtNet, shape: tuple[int, int]) -> torch.Tensor:
    """(f, t, f, t) bool: which input bins/frames each output logit depends on, by moving one
    input at a time (one batch of f * t copies: examples are processed independently)."""
    for p in net.parameters():
        p.data = torch.randn_like(p)
    f, t = shape
    m = torch.rand(1, 1, f, t, dtype=torch.float64)
    moved = m.repeat(f * t, 1, 1, 1)
    moved.view(f * t, f * t)[range(f * t), range(f * t)] += 1.0
    with torch.no_grad():
        net = net.double()
        delta = (net(moved) - net(m))[:, 0]  # (input moved, f out, t out)
    return (delta.abs() > 0).reshape(f, t, f, t).permute(2, 3, 0, 1)


@pytest.mark.parametrize("shape", [(7, 13), (10, 5), (4, 2)])
def test_without_blocks_each_logit_depends_on_its_own_patch_only(shape):
    """Patches start at bin 0 and frame 0 (the padding is after the end), so a logit reads
    exactly the inputs of its patch; the last, partial patch included."""
    pf, pt = 4, 2
    got = _jacobian_support(ConvNeXtNet(1, width=3, blocks=0, patch_bins=pf, patch_frames=pt),
                            shape)
    f, t = shape
    ref = torch.zeros(f, t, f, t, dtype=torch.bool)
    for i in range(f):
        for j in range(t):
            for i2 in range(f):
                for j2 in range(t):
                    ref[i, j, i2, j2] = i // pf == i2 // pf and j // pt == j2 // pt
    assert torch.equal(got, ref)
    # the gradient of the last logit reaches exactly the last, partial patch
    net = ConvNeXtNet(1, width=3, blocks=0, patch_bins=pf, patch_frames=pt)
    m = torch.rand(1, 1, f, t, requires_grad=True)
    net(m)[0, 0, -1, -1].backward()
    assert torch.equal(m.grad[0, 0] != 0, ref[-1, -1])


def test_with_a_block_each_logit_depends_on_patches_within_three():
    """One 7x7 depthwise block: a logit reads the patches up to 3 away, counted from the
    first bin and frame; the last, partial patches (bins 20-21, frame 14) included."""
    pf, pt, (f, t) = 4, 2, (22, 15)
    got = _jacobian_support(ConvNeXtNet(1, width=3, blocks=1, patch_bins=pf, patch_frames=pt,
                                        layer_scale=1.0), (f, t))
    i, j = torch.arange(f), torch.arange(t)
    near_bin = ((i[:, None] // pf - i[None, :] // pf).abs() <= 3)  # (f out, f in)
    near_frame = ((j[:, None] // pt - j[None, :] // pt).abs() <= 3)  # (t out, t in)
    ref = near_bin[:, None, :, None] & near_frame[None, :, None, :]
    assert torch.equal(got, ref)


def test_defaults_patch_and_layer_scale():
    """Patches of 4 bins x 2 frames; every block starts with ConvNeXt's layer scale 1e-6,
    a given scale reaches every block, and 0 leaves the scale out."""
    net = ConvNeXtNet(2, width=8, blocks=2)
    assert net.patch == (4, 2) and net.stem.kernel_size == (4, 2)
    assert all(torch.equal(b.gamma, torch.full((8,), 1e-6)) for b in net.blocks)
    assert torch.equal(ConvNeXtBlock(4).gamma, torch.full((4,), 1e-6))
    scaled = ConvNeXtNet(2, width=8, blocks=2, layer_scale=0.5)
    assert all(torch.equal(b.gamma, torch.full((8,), 0.5)) for b in scaled.blocks)
    assert ConvNeXtBlock(4, layer_scale=0).gamma is None
    assert all(b.gamma is None for b in ConvNeXtNet(2, 8, 2, layer_scale=0).blocks)
