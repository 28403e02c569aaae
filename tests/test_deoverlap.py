"""DeOverlapNet: the learned way from the overlap-added sliCQT picture back to slices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.demix.deoverlap import (
    CHECKPOINT,
    CURVE,
    MODEL,
    DeOverlapConfig,
    DeOverlapNet,
    TrainSettings,
    evaluate_deoverlap,
    load_net,
    measure,
    patches,
    save_model,
    solve,
    train_deoverlap,
)
from tfselect.demix.model_files import CheckpointError
from tfselect.errors import TfselectError
from tfselect.transforms.overlap import overlap_add

SPEC = "slicqt:scale=bark,bins=48,fmin=60,fmax=22050"
SMALL = "slicqt:scale=bark,bins=12,fmin=60,fmax=22050"  # 9 blocks: for the plumbing tests


def _signal(seed: int, seconds: float = 1.5) -> torch.Tensor:
    """(1, 2, samples) float32: a few decaying tones, a chirp and a little noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 44100)
    t = np.arange(n) / 44100
    x = np.zeros(n)
    for f in rng.uniform(60, 6000, 12):
        onset = rng.uniform(0, seconds)
        x += np.sin(2 * np.pi * f * t) * np.exp(-3 * np.clip(t - onset, 0, None)) * (t > onset)
    x += np.sin(2 * np.pi * (100 * t + 400 * t**2)) + 0.02 * rng.standard_normal(n)
    return torch.from_numpy(np.stack([x, np.roll(x, 50)]).astype(np.float32))[None]


def _fit(net: DeOverlapNet, signals: list[torch.Tensor], ridge: float = 1e-6) -> None:
    stats: dict = {}
    for x in signals:
        for i, (X, Y) in patches(net, net.transform(x)).items():
            st = stats.setdefault(i, {"xx": 0, "xy": 0})
            st["xx"] = st["xx"] + X.T @ X
            st["xy"] = st["xy"] + X.T @ Y
    solve(net, stats, ridge)


def test_starts_as_the_window_split_and_keeps_the_picture():
    net = DeOverlapNet(DeOverlapConfig(SPEC)).double()
    C = net.transform(_signal(0).double())
    pic = net.overlap.ola(C)
    for a, b in zip(net(pic), net.overlap.split(pic), strict=True):
        torch.testing.assert_close(a, b)
    with torch.no_grad():  # any weights: the slices still overlap-add to the picture
        for w, m in zip(net.weights, net._masks, strict=True):
            w.copy_(torch.randn(w.shape) * m)
    out = net(pic)
    for a, p in zip(out, pic, strict=True):
        torch.testing.assert_close(overlap_add(a), p, rtol=1e-9, atol=1e-12)


def test_fitting_one_clip_beats_the_window_split_there_and_on_another():
    net = DeOverlapNet(DeOverlapConfig(SPEC, max_frames=64))
    _fit(net, [_signal(s) for s in range(3)])
    seen, unseen = measure(net, _signal(0)), measure(net, _signal(9))
    for r in (seen, unseen):
        assert r["coef_learned"] > r["coef_baseline"] + 10
        assert r["wave_learned"] > r["wave_baseline"] + 10
    assert seen["wave_baseline"] > 20  # the baseline itself is sane


def test_the_output_is_linear_in_the_picture():
    net = DeOverlapNet(DeOverlapConfig(SPEC))
    _fit(net, [_signal(1)])
    net = net.double()
    a, b = (net.overlap.ola(net.transform(_signal(s).double())) for s in (2, 3))
    with torch.no_grad():
        lhs = net([2 * p + q for p, q in zip(a, b, strict=True)])
        rhs = [2 * p + q for p, q in zip(net(a), net(b), strict=True)]
    for p, q in zip(lhs, rhs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


def test_weights_outside_the_neighbourhood_stay_zero_under_gradients():
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=1, frames_radius=2))
    pic = net.overlap.ola(net.transform(_signal(4)))
    loss = sum((c.abs() ** 2).sum() for c in net(pic))
    loss.backward()
    for w, m in zip(net.weights, net._masks, strict=True):
        if w.numel():
            assert (w.grad[~m] == 0).all() and (w.grad[m] != 0).any()


def test_non_ragged_transforms_are_refused():
    for spec in ("stft:n_fft=4096,hop=1024", f"{SPEC},form=zeropad", f"{SPEC},form=rasterize"):
        with pytest.raises(TfselectError, match="ragged sliCQT"):
            DeOverlapNet(DeOverlapConfig(spec))


def test_cli_refuses_a_non_ragged_spec_in_one_line(tmp_path):
    res = CliRunner().invoke(
        app,
        [
            "deoverlap",
            "train",
            "--transform",
            "stft:n_fft=2048,hop=512",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert res.exit_code == 2
    assert res.output.strip().startswith("tfselect: error: de-overlap needs a ragged sliCQT")
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_cli_eval_without_a_model_is_one_line(tmp_path):
    res = CliRunner().invoke(app, ["deoverlap", "eval", "--model", str(tmp_path)])
    assert res.exit_code == 2 and "no de-overlap model" in res.output


def test_save_and_load_round_trip(tmp_path):
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=2))
    _fit(net, [_signal(5)])
    save_model(net, tmp_path / MODEL)
    back = load_net(tmp_path)
    assert back.config == net.config
    for a, b in zip(net.state_dict().values(), back.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / MODEL).write_bytes(b"not a model")
    with pytest.raises(CheckpointError):
        load_net(tmp_path / "x")


def _settings(**kw) -> TrainSettings:
    cfg = DeOverlapConfig(SPEC, bins_radius=2, frames_radius=4, max_frames=24).to_dict()
    return TrainSettings(
        **{
            "config": cfg,
            "minutes": 60,
            "batch_size": 2,
            "seconds": 1.0,
            "valid_clips": 1,
            "synthetic": 0.0,
            **kw,
        }
    )


def test_training_resumes_exactly(demo_root, tmp_path):
    from tfselect.audio.dataset import tracks_for

    tracks = (tracks_for(demo_root, "train"), tracks_for(demo_root, "valid"))
    train_deoverlap(_settings(steps=2), tmp_path / "a", progress=False, tracks=tracks)
    curve = train_deoverlap(_settings(steps=4), tmp_path / "a", progress=False, tracks=tracks)
    train_deoverlap(_settings(steps=4), tmp_path / "b", progress=False, tracks=tracks)
    a, b = load_net(tmp_path / "a"), load_net(tmp_path / "b")
    for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert [r["steps"] for r in curve] == [2, 4]
    assert (tmp_path / "a" / CHECKPOINT).exists() and (tmp_path / "a" / CURVE).exists()
    last = curve[-1]
    assert last["valid_wave_learned_db"] > last["valid_wave_baseline_db"]
    with pytest.raises(CheckpointError, match="other settings"):
        train_deoverlap(
            _settings(steps=5, batch_size=3), tmp_path / "a", progress=False, tracks=tracks
        )


def test_eval_table(demo_root, tmp_path):
    from tfselect.audio.dataset import tracks_for

    net = DeOverlapNet(DeOverlapConfig(SPEC, max_frames=24))
    _fit(net, [_signal(6)])
    df = evaluate_deoverlap(
        net, tracks_for(demo_root, "test")[:1], seconds=1.0, sources=("mixture", "bass")
    )
    assert list(df.columns) == [
        "track",
        "source",
        "block",
        "start_bin",
        "bins",
        "frames",
        "fmin_hz",
        "fmax_hz",
        "coef_snr_learned",
        "coef_snr_baseline",
        "wave_snr_learned",
        "wave_snr_baseline",
    ]
    n_blocks = len(net.transform.out_blocks)
    per_source = df.groupby("source").size()
    assert list(per_source.index) == ["bass", "mixture"] and (per_source == n_blocks + 1).all()
    # a block's own waveform error, computed in a batch, is the one of a plain inverse
    from tfselect.demix.data import TrackAudio
    from tfselect.transforms.overlap import snr_db

    T = net.transform
    audio = TrackAudio(tracks_for(demo_root, "test")[:1])
    n = 44100
    x = torch.from_numpy(audio.read(0, "bass", (audio.lengths[0] - n) // 2, n)).double()
    C = T(x)
    one = list(C)
    with torch.no_grad():
        one[1] = net(net.overlap.ola(C))[1]
    row = df[(df.source == "bass") & (df.block == "1")].iloc[0]
    assert row.wave_snr_learned == pytest.approx(snr_db(x, T.inverse(one, n)), abs=1e-6)
    allrows = df[df.block == "all"]
    assert np.isfinite(allrows[["coef_snr_baseline", "wave_snr_baseline"]].to_numpy()).all()
    # blocks beyond max_frames are the window split itself
    big = df[(df.block != "all") & (df.frames > 24)]
    np.testing.assert_allclose(big.coef_snr_learned, big.coef_snr_baseline)


# ------------------------------------------------------------------ in the demixer


def _demixer_with_deoverlap(tmp_path):
    from tfselect.demix.model import Demixer, ModelConfig

    net = DeOverlapNet(DeOverlapConfig(SPEC, max_frames=24))
    _fit(net, [_signal(7)])
    save_model(net, tmp_path / "dn" / MODEL)
    cfg = ModelConfig(
        specs={"vocals": SPEC, "bass": "stft:n_fft=1024,hop=256"},
        deoverlap={SPEC: {**net.config.to_dict(), "source": str(tmp_path / "dn")}},
    )
    model = Demixer(cfg)
    model.load_deoverlap()
    return model, net


def test_demixer_branch_masks_the_picture_and_deoverlaps(tmp_path):
    model, net = _demixer_with_deoverlap(tmp_path)
    branch = model.branches["vocals"]
    for a, b in zip(branch.deoverlap.state_dict().values(), net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    x = _signal(8, seconds=1.0)
    C, M = branch.masks(x)
    S = net.transform(x)[0].shape[-2]
    for c, m, blk in zip(C, M, net.transform.out_blocks, strict=True):
        assert c.shape == m.shape == (1, 2, blk.bins, (S + 1) * blk.frames // 2)
    y = model(x)
    assert y.shape == (1, 2, 2, x.shape[-1])
    y.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in branch.nets.parameters())
    assert all(p.grad is None for p in branch.deoverlap.parameters())  # frozen
    assert model.branches["bass"].deoverlap is None  # matrix forms are unchanged
    # with a mask of one on the picture the branch returns the mixture, through the net
    from tfselect.transforms.overlap import snr_db

    with torch.no_grad():
        ones = [torch.ones(c.shape) for c in C]
        y1 = branch.transform.inverse(
            branch.deoverlap([m * c for m, c in zip(ones, C, strict=True)]), x.shape[-1]
        )
        base = branch.transform.inverse(net.overlap.split(C), x.shape[-1])
    assert snr_db(x, y1) > snr_db(x, base) + 3  # blocks above max_frames=24 stay split


def test_demixer_with_deoverlap_saves_and_loads_self_contained(tmp_path):
    import shutil

    from tfselect.demix.model_files import MODEL as DEMIX_MODEL
    from tfselect.demix.model_files import load_model
    from tfselect.demix.tensorfile import save_state

    model, _ = _demixer_with_deoverlap(tmp_path)
    save_state(
        {"model_config": model.config.to_dict(), "state_dict": model.state_dict()},
        tmp_path / "m" / DEMIX_MODEL,
    )
    shutil.rmtree(tmp_path / "dn")  # the model folder does not need the de-overlap folder
    back = load_model(tmp_path / "m")
    x = _signal(9, seconds=1.0)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model.eval()(x), rtol=1e-5, atol=1e-6)


def test_train_best_deoverlap_options(demo_root, tmp_path):
    """The options' plumbing, on the coarse transform (the de-overlap in the demixer is tested
    on SPEC above)."""
    from tfselect.demix.model_files import load_model

    run = CliRunner().invoke
    base = [
        "train-best",
        "--root",
        str(demo_root),
        "--spec",
        f"vocals={SMALL}",
        "--spec",
        "bass=stft:n_fft=1024,hop=256",
        "--out",
        str(tmp_path / "m"),
    ]
    res = run(app, [*base, "--deoverlap", "learned"])
    assert res.exit_code == 2 and "no --deoverlap-model for" in res.output
    res = run(app, [*base, "--deoverlap", "sometimes"])
    assert res.exit_code == 2 and "none or learned" in res.output
    net = DeOverlapNet(DeOverlapConfig("slicqt:scale=log,bins=24,fmin=100,fmax=22050"))
    save_model(net, tmp_path / "other" / MODEL)
    res = run(app, [*base, "--deoverlap", "learned", "--deoverlap-model", str(tmp_path / "other")])
    assert res.exit_code == 2 and "which no ragged branch uses" in res.output
    assert not (tmp_path / "m").exists()
    net = DeOverlapNet(DeOverlapConfig(SMALL, max_frames=24))
    _fit(net, [_signal(7)])
    save_model(net, tmp_path / "dn" / MODEL)
    res = run(
        app,
        [
            *base,
            "--deoverlap",
            "learned",
            "--deoverlap-model",
            str(tmp_path / "dn"),
            "--epochs",
            "1",
            "--steps",
            "1",
            "--batch-size",
            "1",
            "--chunk",
            "1",
            "--valid-seconds",
            "1",
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    model = load_model(tmp_path / "m")
    assert model.branches["vocals"].deoverlap is not None
    assert model.config.deoverlap[SMALL]["source"] == str(tmp_path / "dn")


def test_cli_train_then_eval(demo_root, tmp_path, caplog):
    """The commands' plumbing: a coarse transform (9 blocks), corpus clips only and the
    shortest evaluation keep it cheap (the numbers are tested above). The last held-out
    SNR is said once (printed, not logged as well), and eval prints labels, not columns."""
    import logging

    import pandas as pd

    caplog.set_level(logging.INFO, logger="tfselect.deoverlap")
    out = tmp_path / "d"
    res = CliRunner().invoke(
        app,
        [
            "deoverlap",
            "train",
            "--transform",
            SMALL,
            "--root",
            str(demo_root),
            "--minutes",
            "0.01",
            "--batch-size",
            "1",
            "--seconds",
            "1",
            "--max-frames",
            "24",
            "--synthetic",
            "0",
            "--out",
            str(out),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    last = pd.read_csv(out / CURVE).iloc[-1]
    said = f"{int(last['clips'])} clips: held-out waveform SNR {last['valid_wave_learned_db']:.1f}"
    logged = [r.getMessage() for r in caplog.records]
    assert sum(x.count(said) for x in [res.output, *logged]) == 1, (res.output, logged)
    assert said in res.output
    assert {MODEL, CHECKPOINT, CURVE} <= {p.name for p in out.iterdir()}
    res = CliRunner().invoke(
        app,
        ["deoverlap", "eval", "--model", str(out), "--root", str(demo_root), "--seconds", "0.5"],
    )
    assert res.exit_code == 0, res.output
    assert "waveform SNR, dB" in res.output and "_snr_" not in res.output
    df = pd.read_csv(out / "eval-test.csv")
    assert {"block", "coef_snr_learned", "wave_snr_baseline"} <= set(df.columns)
    assert (df.block == "all").any()


# ------------------------------------------------------------------ evaluation: speed, progress


def test_block_inverses_are_each_block_inverted_alone():
    from tfselect.transforms import build

    T = build(SMALL, 44100)
    x = _signal(7, seconds=1.0).double()
    C = T(x)
    n = x.shape[-1]
    parts = T.block_inverses([(b, c) for b, c in enumerate(C)], n)
    assert parts.shape == (len(C), *x.shape)
    for b in range(len(C)):  # the definition: every other block zero, one whole inverse
        alone = [c if i == b else torch.zeros_like(c) for i, c in enumerate(C)]
        torch.testing.assert_close(parts[b], T.inverse(alone, n), rtol=0, atol=1e-12)
    torch.testing.assert_close(parts.sum(0), x, rtol=0, atol=1e-9)  # the parts add up
    with pytest.raises(ValueError, match="block 1: shape"):
        T.block_inverses([(1, C[0])], n)


def test_block_wave_snrs_equal_plain_inverses_of_one_replaced_block():
    from tfselect.demix.deoverlap import _block_wave_snrs, _learned_and_split
    from tfselect.transforms.overlap import snr_db

    net = DeOverlapNet(DeOverlapConfig(SMALL, max_frames=24)).double()
    _fit(net, [_signal(8)])
    x = _signal(9, seconds=1.0)[0].double()
    T = net.transform
    with torch.no_grad():
        C, est, base = _learned_and_split(net, x)
        learned, split = _block_wave_snrs(T, x, C, est, base, chunk=3)
        for b in range(len(C)):
            for got, slices in ((learned[b], est), (split[b], base)):
                one = [slices[i] if i == b else c for i, c in enumerate(C)]
                want = snr_db(x, T.inverse(one, x.shape[-1]))
                assert got == pytest.approx(want, abs=1e-6), b
    trained = [b for b, w in enumerate(net.weights) if w.numel()]
    assert trained and any(learned[b] != split[b] for b in trained)


def test_eval_inverts_each_signal_twice_and_shows_a_bar(demo_root, monkeypatch, capsys):
    """Per signal: the two whole inverses of block "all" and no inverse of zeros per block
    (that made one signal cost two inverses per block: minutes without a word)."""
    from tfselect.audio.dataset import tracks_for

    net = DeOverlapNet(DeOverlapConfig(SMALL, max_frames=24))
    T = net.transform
    calls = []
    inverse = type(T).inverse
    monkeypatch.setattr(type(T), "inverse", lambda self, *a: calls.append(1) or inverse(self, *a))
    tracks = tracks_for(demo_root, "test")[:1]
    df = evaluate_deoverlap(net, tracks, seconds=0.5, sources=("mixture", "bass"))
    assert len(calls) == 2 * 2 and set(df.source) == {"mixture", "bass"}
    assert "de-overlap eval" in capsys.readouterr().err
    evaluate_deoverlap(net, tracks, seconds=0.5, sources=("bass",), progress=False)
    assert capsys.readouterr().err == ""


def test_cli_eval_quiet_passes_no_progress(tmp_path, monkeypatch):
    import tfselect.api.deoverlapping as api

    seen = {}

    def fake(model, root, subset, seconds, out, progress=True):
        seen["progress"] = progress
        raise TfselectError("stop here")

    monkeypatch.setattr(api, "deoverlap_eval", fake)
    for args, progress in (([], True), (["--quiet"], False)):
        CliRunner().invoke(app, ["deoverlap", "eval", "--model", str(tmp_path), *args])
        assert seen.pop("progress") is progress


def test_training_bar_and_log_lines_read_as_words(demo_root, tmp_path, capsys, caplog):
    """The bar shows whole seconds and "N clips" (no float sums, no key=value); a solve's
    line says minutes, clips and the held-out SNRs in dB, not the curve's column names."""
    import logging
    import re

    from tfselect.audio.dataset import tracks_for

    tracks = (tracks_for(demo_root, "train"), tracks_for(demo_root, "valid"))
    with caplog.at_level(logging.INFO, logger="tfselect.deoverlap"):
        curve = train_deoverlap(_settings(steps=3, solve_seconds=1e-3), tmp_path / "m",
                                progress=True, tracks=tracks)  # fmt: skip
    err = capsys.readouterr().err
    assert "de-overlap" in err and re.search(r"\d+ clips\]", err), err
    assert "clips=" not in err and not re.search(r"\d\.\d{3,}", err), err
    lines = [r.getMessage() for r in caplog.records if "held-out" in r.getMessage()]
    # every solve but the closing one, whose row is the result the caller shows
    assert len(lines) == len(curve) - 1 >= 1
    row = curve[-2]
    assert lines[-1] == (
        f"after {row['minutes']:.1f} min, {row['clips']} clips: held-out waveform SNR "
        f"{row['valid_wave_learned_db']:.1f} dB (window split "
        f"{row['valid_wave_baseline_db']:.1f} dB), coefficients "
        f"{row['valid_coef_learned_db']:.1f} dB ({row['valid_coef_baseline_db']:.1f} dB)"
    )
    assert not any("valid_" in line or "rows" in line for line in lines)


def test_eval_prints_labels_with_units_and_the_medians(tmp_path, capsys):
    """`deoverlap eval`'s answer in words: "waveform"/"coefficients", learned and window
    split, in dB, never the CSV's column names; the medians over signals of block "all" and
    the blocks with the lowest learned waveform SNR, computed here with plain loops."""
    import pandas as pd

    from tfselect.api.deoverlapping import SNR_COLUMNS, DeOverlapEval
    from tfselect.cli.present_checks import print_deoverlap_eval

    rng = np.random.default_rng(3)
    rows = []
    for signal in range(5):
        for block in ("all", *map(str, range(8))):
            band = (0.0, 22050.0) if block == "all" else (100.0 * 2 ** int(block), 0.0)
            rows.append({"track": f"t{signal}", "source": "mixture", "block": block,
                         "fmin_hz": band[0], "fmax_hz": band[0] * 2 or band[1],
                         **{c: float(rng.uniform(5, 40)) for c in SNR_COLUMNS}})  # fmt: skip
    table = pd.DataFrame(rows)
    print_deoverlap_eval(DeOverlapEval(table, tmp_path / "eval-test.csv"))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(map(len, lines[:-1])) <= 80  # the last names the CSV: a path, whole
    assert not any(c in out for c in SNR_COLUMNS)
    assert lines[0] == "median SNR over 5 signals, every block de-overlapped:"
    assert lines[1].split() == ["SNR,", "dB", "learned", "window", "split"]

    def median(block: str, column: str) -> float:
        return float(np.median([r[column] for r in rows if r["block"] == block]))

    for line, kind in zip(lines[2:4], ("wave", "coef"), strict=True):
        words = line.split()
        assert words[0] == {"wave": "waveform", "coef": "coefficients"}[kind]
        assert words[1:] == [f"{median('all', f'{kind}_snr_{w}'):.2f}"
                             for w in ("learned", "baseline")]  # fmt: skip
    assert "waveform SNR, dB" in lines[5] and "coefficient SNR, dB" in lines[5]
    worst = sorted(map(str, range(8)), key=lambda b: median(b, "wave_snr_learned"))[:5]
    body = [x.split() for x in lines[7:12]]
    assert [w[0] for w in body] == worst
    for words in body:
        b = words[0]
        lo = 100 * 2 ** int(b)
        assert words[1] == f"{lo}-{2 * lo}"
        assert words[2:] == [f"{median(b, c):.2f}" for c in
                             ("wave_snr_learned", "wave_snr_baseline", "coef_snr_learned",
                              "coef_snr_baseline")]  # fmt: skip
    assert lines[-1] == f"wrote {tmp_path / 'eval-test.csv'}"
