"""Demixer: losses against a reference from the formulas, Wiener, model, data, CLI."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from conftest import one_line_error
from typer.testing import CliRunner

from tfselect import TARGETS
from tfselect.cli import app
from tfselect.demix.losses import DemixLoss, LossConfig
from tfselect.demix.model import Demixer, ModelConfig
from tfselect.errors import TfselectError

REPO = Path(__file__).resolve().parents[1]
STFT = "stft:n_fft=1024,hop=256"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """A tiny MUSDB-HQ corpus: 3 train and 2 test tracks of 4 s (demo synthesiser)."""
    from tfselect.audio.demo import write_demo_corpus

    root = tmp_path_factory.mktemp("demix") / "corpus"
    write_demo_corpus(root, tracks=3, seconds=4.0, seed=0, test_tracks=2)
    return root


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfselect", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def tiny_model(corpus, tmp_path_factory) -> Path:
    """A per-target model (STFT branches, two different specs) trained for 2 short epochs."""
    out = tmp_path_factory.mktemp("demix") / "model"
    r = run_cli("train-best", "--root", str(corpus), "--out", str(out), "--epochs", "2",
                "--steps", "2", "--batch-size", "2", "--chunk", "1", "--valid-seconds", "1",
                "--quiet", "--spec", f"vocals={STFT}", "--spec", "drums=stft:n_fft=512,hop=128",
                "--spec", f"bass={STFT}", "--spec", f"other={STFT}")
    assert r.returncode == 0, r.stderr
    return out


# ----------------------------------------------------------------------- loss reference

def ref_stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred STFT from its definition: zero-pad n_fft/2, periodic Hann, rfft per frame."""
    xp = np.pad(x, (n_fft // 2, n_fft // 2))
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = 1 + (len(xp) - n_fft) // hop
    return np.stack([np.fft.rfft(w * xp[i * hop:i * hop + n_fft]) for i in range(frames)], 1)


def ref_loss(est, ref, mix, cfg: LossConfig) -> float:
    """The X-UMX combination loss written out with loops."""
    b, J, C, _ = est.shape
    subsets = [s for r in range(1, J) for s in itertools.combinations(range(J), r)]
    assert len(subsets) == 14
    lf, lt, lm = [], [], []
    for s in subsets:
        e, t = est[:, list(s)].sum(1), ref[:, list(s)].sum(1)
        errs = []
        for i in range(b):
            for c in range(C):
                E, R = ref_stft(e[i, c], cfg.n_fft, cfg.hop), ref_stft(t[i, c], cfg.n_fft, cfg.hop)
                errs.append((np.abs(E) - np.abs(R)) ** 2 if cfg.freq == "mag"
                             else np.abs(E - R) ** 2)
                x, sh, tt = mix[i, c], e[i, c], t[i, c]
                if cfg.time == "wsdr":
                    n, nh = x - tt, x - sh
                    a = tt @ tt / (tt @ tt + n @ n)
                    cs = tt @ sh / np.linalg.norm(tt) / np.linalg.norm(sh)
                    cn = n @ nh / np.linalg.norm(n) / np.linalg.norm(nh)
                    lt.append(-a * cs - (1 - a) * cn)
                elif cfg.time == "sdr":
                    lt.append(-10 * np.log10(tt @ tt / ((tt - sh) @ (tt - sh))))
                else:
                    p = (sh @ tt) / (tt @ tt) * tt
                    lt.append(-10 * np.log10(p @ p / ((p - sh) @ (p - sh))))
        lf.append(np.mean(errs))
    total = np.mean(lf) + cfg.alpha * np.mean(lt)
    if cfg.masksum:
        for i in range(b):
            for c in range(C):
                Y = sum(np.abs(ref_stft(est[i, j, c], cfg.n_fft, cfg.hop)) for j in range(J))
                lm.append((Y - np.abs(ref_stft(mix[i, c], cfg.n_fft, cfg.hop))) ** 2)
        total += cfg.masksum * np.mean(lm)
    return float(total)


@pytest.mark.parametrize("freq,time,masksum", [("mag", "wsdr", 0.0), ("complex", "sdr", 0.5),
                                               ("mag", "sisdr", 0.0)])
def test_loss_matches_reference(freq, time, masksum):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((2, 4, 2, 3000))
    est = ref + 0.5 * rng.standard_normal(ref.shape)
    mix = ref.sum(1)
    cfg = LossConfig(freq=freq, time=time, masksum=masksum, n_fft=256, hop=64)
    got, parts = DemixLoss(cfg)(*(torch.from_numpy(a) for a in (est, ref, mix)))
    assert float(got) == pytest.approx(ref_loss(est, ref, mix, cfg), rel=1e-6)
    assert set(parts) == {"freq", "time", "masksum"}


def test_loss_is_zero_for_perfect_estimates_and_has_gradients():
    torch.manual_seed(0)
    ref = torch.randn(1, 4, 2, 4000)
    mix = ref.sum(1)
    loss, parts = DemixLoss(LossConfig(n_fft=256, hop=64))(ref, ref, mix)
    assert parts["freq"] == pytest.approx(0, abs=1e-6) and parts["time"] == pytest.approx(-1)
    est = (ref + 0.1 * torch.randn_like(ref)).requires_grad_()
    DemixLoss(LossConfig(n_fft=256, hop=64))(est, ref, mix)[0].backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0


# ------------------------------------------------------------------------------ model

@pytest.mark.parametrize("network", ["blstm", "cdae"])
def test_model_shapes_and_masks(network):
    cfg = ModelConfig(specs={t: STFT for t in TARGETS}, network=network)
    m = Demixer(cfg)
    x = torch.randn(2, 2, 5000)
    y = m(x)
    assert y.shape == (2, 4, 2, 5000)
    C, M = m.branches["vocals"].masks(x)
    assert len(M) == 1 and M[0].shape == C[0].shape and (M[0] >= 0).all() and (M[0] <= 1).all()


def test_model_on_ragged_slicqt():
    pytest.importorskip("tfselect.transforms.slicqt")
    spec = "slicqt:scale=bark,bins=24,fmin=40,fmax=22050"
    m = Demixer(ModelConfig(specs={"vocals": spec, "bass": STFT}))
    assert m.branches["vocals"].family == "cdae" and m.branches["bass"].family == "blstm"
    y = m(torch.randn(1, 2, 30000))
    assert y.shape == (1, 2, 2, 30000) and torch.isfinite(y).all()
    with pytest.raises(TfselectError, match="matrix form"):
        Demixer(ModelConfig(specs={"vocals": spec}, network="blstm"))


def test_blstm_on_a_ragged_form_is_a_user_error(tmp_path, corpus):
    """train-best --network blstm on a ragged sliCQT: one error line, status 2, no traceback."""
    pytest.importorskip("tfselect.transforms.slicqt")
    spec = "slicqt:scale=bark,bins=24,fmin=40,fmax=22050"
    r = CliRunner().invoke(app, ["train-best", "--out", str(tmp_path / "m"), "--root", str(corpus),
                                 "--network",
                                 "blstm", "--spec", f"vocals={spec}", "--spec", f"drums={STFT}",
                                 "--spec", f"bass={STFT}", "--spec", f"other={STFT}"])
    assert r.exit_code == 2, r.output
    assert "matrix form" in r.output and r.output.startswith("tfselect: error:")
    assert "Traceback" not in r.output
    for bad in ({"preset": "huge"}, {"network": "rnn"}, {"mask": "tanh"}):
        with pytest.raises(TfselectError):
            ModelConfig(specs={"vocals": STFT}, **bad)


def test_models_process_examples_independently_of_the_batch():
    m = Demixer(ModelConfig(specs={t: STFT for t in TARGETS}, network="cdae")).train()
    x = torch.randn(3, 2, 4000)
    assert torch.allclose(m(x)[1:2], m(x[1:2]), atol=1e-5)  # no BatchNorm: DDP-exact


# ------------------------------------------------------------------------------- data

def test_training_examples_are_deterministic_and_sum_to_the_mixture(corpus):
    from tfselect.audio.dataset import tracks_for
    from tfselect.demix.data import TrackAudio, TrainingSet

    ts = TrainingSet(TrackAudio(tracks_for(corpus, "train")), 1.0, seed=3)
    m1, y1 = ts.batch(0, [0, 1])
    m2, y2 = ts.batch(0, [0, 1])
    assert torch.equal(m1, m2) and torch.equal(y1, y2)
    assert m1.shape == (2, 2, 44100) and y1.shape == (2, 4, 2, 44100)
    assert torch.allclose(y1.sum(1), m1, atol=1e-6)
    assert not torch.equal(ts.batch(1, [0])[1], y1[:1])  # other epoch, other example


# ------------------------------------------------------------------------- bad input

def test_missing_or_incomplete_best_csv(tmp_path, corpus):
    r = CliRunner().invoke(app, ["train-best", "--best", str(tmp_path / "nope.csv"),
                                 "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and "not found" in r.output and len(r.output.strip().splitlines()) == 1
    best = tmp_path / "best.csv"
    pd.DataFrame({"target": ["vocals", "drums"], "objective": "mpi", "candidate": 0,
                  "spec": [STFT, STFT], "value": 1.0}).to_csv(best, index=False)
    # One branch per target of best.csv: a target the data lacks stops before anything is written.
    pd.DataFrame({"target": ["vocals", "piano"], "objective": "mpi", "candidate": "best",
                  "spec": [STFT, STFT], "value": 1.0}).to_csv(best, index=False)
    r = CliRunner().invoke(app, ["train-best", "--best", str(best), "--out", str(tmp_path / "m"),
                                 "--root", str(corpus)])  # fmt: skip
    assert r.exit_code == 2 and "unknown target 'piano'" in r.output
    assert "vocals, drums, bass, other" in r.output and not (tmp_path / "m").exists()
    r = CliRunner().invoke(app, ["train-best", "--best", str(best), "--spec", "bass=stft:n_fft=3",
                                 "--spec", f"other={STFT}", "--out", str(tmp_path / "m")])
    assert r.exit_code == 2 and r.output.startswith("tfselect: error:")


def test_checkpoint_of_another_configuration(corpus, tiny_model):
    r = run_cli("train-best", "--root", str(corpus), "--out", str(tiny_model), "--epochs", "3",
                "--steps", "2", "--batch-size", "2", "--chunk", "1", "--quiet",
                "--baseline", "stft")
    assert r.returncode == 2
    assert "another configuration" in r.stderr and "model" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_separate_unreadable_input(tiny_model, tmp_path):
    # in process, as the refusals below (the subprocess route of an error is tested once)
    bad = tmp_path / "song.wav"
    bad.write_text("not audio")
    r = CliRunner().invoke(app, ["separate", "--model", str(tiny_model), str(bad), "--out",
                                 str(tmp_path)])  # fmt: skip
    assert r.exit_code == 2 and "cannot read audio" in r.stderr
    r = CliRunner().invoke(app, ["separate", "--model", str(tmp_path / "none"), str(bad)])
    assert r.exit_code == 2 and "no trained model" in r.stderr


# ------------------------------------------------------------------ separate, evaluate

def test_separate_mono_22k_and_stereo_48k(tiny_model, tmp_path):
    rng = np.random.default_rng(1)
    mono, stereo = tmp_path / "mono.wav", tmp_path / "stereo.flac"
    sf.write(mono, 0.1 * rng.standard_normal(int(22050 * 2.3)), 22050)
    sf.write(stereo, 0.1 * rng.standard_normal((48000 * 3 + 17, 2)), 48000)
    r = run_cli("separate", "--model", str(tiny_model), str(mono), str(stereo), "--out",
                str(tmp_path / "out"), "--chunk", "1", "--overlap", "0.25", "--wiener")
    assert r.returncode == 0, r.stderr
    for name, rate, n, ch in [("mono", 22050, int(22050 * 2.3), 1),
                              ("stereo", 48000, 48000 * 3 + 17, 2)]:
        for t in TARGETS:
            info = sf.info(tmp_path / "out" / name / f"{t}.wav")
            assert (info.samplerate, info.frames, info.channels) == (rate, n, ch)


def test_separate_without_overlap(tiny_model, tmp_path):
    """--overlap 0 on a file longer than one chunk: chunks abut (no empty cross-fade ramp)."""
    from tfselect.demix.model_files import load_model
    from tfselect.demix.separate import separate_array

    m = load_model(tiny_model)
    x = np.random.default_rng(3).standard_normal((2, int(44100 * 2.5))).astype(np.float32)
    y = separate_array(m, 0.1 * x, chunk_seconds=1.0, overlap_seconds=0.0)
    assert y.shape == (4, 2, x.shape[1]) and np.isfinite(y).all()
    # Each chunk is the model's own output on that chunk (weight 1, no ramps).
    first = separate_array(m, 0.1 * x[:, :44100], chunk_seconds=1.0, overlap_seconds=0.0)
    assert np.allclose(y[..., :44100], first, atol=1e-6)
    song = tmp_path / "song.wav"
    sf.write(song, 0.1 * x.T, 44100)
    # in process: the command's own path without a second interpreter importing torch
    r = CliRunner().invoke(app, ["separate", "--model", str(tiny_model), str(song), "--out",
                                 str(tmp_path / "out"), "--chunk", "1", "--overlap", "0"])
    assert r.exit_code == 0, r.output
    assert sf.info(tmp_path / "out" / "song" / "vocals.wav").frames == x.shape[1]


def test_separate_writes_stems_atomically(tiny_model, tmp_path, monkeypatch):
    """A write that fails midway leaves the previous stems intact and no temporary files."""
    from tfselect.demix.model_files import load_model
    from tfselect.demix.separate import separate_file

    m = load_model(tiny_model)
    song = tmp_path / "song.wav"
    sf.write(song, 0.1 * np.random.default_rng(4).standard_normal((30000, 2)), 44100)
    written = separate_file(m, song, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in written}
    real_write = sf.write

    def broken(file, data, *args, **kwargs):
        real_write(file, data[:10], *args, **kwargs)  # half a file, then the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        separate_file(m, song, tmp_path / "out", overwrite=True)
    folder = tmp_path / "out" / "song"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.fixture(scope="module")
def silent_vocals_corpus(corpus, tmp_path_factory) -> Path:
    """The demo corpus with silent vocals in every test track (mixture = the other stems)."""
    import shutil

    root = tmp_path_factory.mktemp("silent") / "corpus"
    shutil.copytree(corpus, root)
    for track in (root / "test").iterdir():
        stems = {t: sf.read(track / f"{t}.wav", dtype="float32") for t in TARGETS}
        rate = stems["vocals"][1]
        sf.write(track / "vocals.wav", np.zeros_like(stems["vocals"][0]), rate)
        mix = sum(stems[t][0] for t in TARGETS if t != "vocals")
        sf.write(track / "mixture.wav", mix, rate, subtype="FLOAT")
    return root


def test_evaluate_with_a_silent_target(silent_vocals_corpus, tiny_model, tmp_path,
                                       monkeypatch):
    """A silent reference is not scored (NaN, said so), the others are; never a crash."""
    import json

    import museval

    from tfselect.demix import evaluate as ev

    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["evaluate", "--model", str(tiny_model), "--root",
                                 str(silent_vocals_corpus), "--tracks", "1", "--duration", "2",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    tracks = pd.read_csv(out / "tracks.csv")
    assert len(tracks) == 4
    voc = tracks[tracks["target"] == "vocals"]
    assert voc["silent_reference"].all() and voc[["SDR", "SIR", "SAR", "ISR"]].isna().all(None)
    rest = tracks[tracks["target"] != "vocals"]
    assert not rest["silent_reference"].any() and np.isfinite(rest["SDR"]).all()
    med = pd.read_csv(out / "medians.csv").set_index("target")
    assert np.isnan(med.loc["vocals", "SDR"])
    assert np.isfinite(med.drop(index="vocals")["SDR"]).all()
    (js,) = (out / "json").glob("*.json")
    df = museval.json2df(json.loads(js.read_text()), js.stem)
    assert set(df["target"]) == set(TARGETS) and len(df[df["target"] == "vocals"]) == 4 * 2
    assert df[df["target"] == "vocals"]["score"].isna().all()
    assert df[df["target"] != "vocals"]["score"].notna().all()
    info = json.loads((out / "info.json").read_text())
    assert info["unscored"] == [{"track": js.stem, "target": "vocals", "silent": "reference"}]

    # Atomic outputs: a CSV write that fails midway keeps the previous file, no temp files.
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    monkeypatch.setattr(ev, "bss_eval", lambda ref, est: _fake_scores(ref))  # fast

    def broken(self, path, *args, **kwargs):
        Path(path).write_text("track,tar")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        ev.evaluate_model(tiny_model, silent_vocals_corpus, tracks=1, duration=2, out=out,
                          progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def _fake_scores(ref: np.ndarray) -> dict[str, np.ndarray]:
    frames = max(1, ref.shape[-1] // 44100)
    scores = {m: np.zeros((len(ref), frames)) for m in ("SDR", "SIR", "SAR", "ISR")}
    return {**scores, "silent_reference": np.zeros(len(ref), bool),
            "silent_estimate": np.zeros(len(ref), bool)}


def test_evaluate_two_short_tracks(corpus, tiny_model, tmp_path):
    """The pool of --jobs 2 on two tracks, one museval frame each (the frame count and the
    silent-target rules are test_evaluate_with_a_silent_target's)."""
    import museval

    from tfselect.demix.evaluate import demix_table

    r = run_cli("evaluate", "--model", str(tiny_model), "--root", str(corpus), "--tracks", "2",
                "--duration", "1", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    ev = tiny_model / "eval-test"
    jsons = sorted((ev / "json").glob("*.json"))
    assert len(jsons) == 2
    df = museval.json2df(__import__("json").loads(jsons[0].read_text()), jsons[0].stem)
    assert set(df["target"]) == set(TARGETS) and set(df["metric"]) >= {"SDR", "SIR", "SAR"}
    med = pd.read_csv(ev / "medians.csv")
    assert list(med["target"]) == list(TARGETS) and np.isfinite(med["SDR"]).all()
    assert len(pd.read_csv(ev / "tracks.csv")) == 8
    table = demix_table([tiny_model])
    assert list(table["model"].unique()) == ["per-target"] and len(table) == 4


def test_train_best_reads_the_search_studies(tmp_path, demo_root, small_study):
    """--study takes each target's best spec from the search's own studies (study-<target>)."""
    from tfselect.demix.specs import resolve_specs, study_best_specs
    from tfselect.errors import TfselectError
    from tfselect.report.best import best_spec
    from tfselect.search.config import load_config
    from tfselect.search.run import run_search

    url = f"sqlite:///{tmp_path}/s.db"
    cfg = load_config(small_study)
    for target in ("vocals", "bass"):
        run_search(target, storage=url, study=f"mine-{target}", config=cfg, root=demo_root,
                   trials=2, progress=False)  # fmt: skip
    specs = study_best_specs(url, "mine")
    assert set(specs) == {"vocals", "bass"}
    assert specs["bass"] == best_spec(url, "bass", "mine-bass")[0]
    # The two other targets come from --spec; without them, one clear error.
    full = resolve_specs(None, {"drums": "stft:n_fft=1024,hop=256",
                                "other": "stft:n_fft=2048,hop=512"}, specs)  # fmt: skip
    assert full["vocals"] == specs["vocals"] and full["other"] == "stft:n_fft=2048,hop=512"
    # Without best.csv the studies' targets alone make the model (one branch each).
    assert resolve_specs(None, {}, specs) == specs
    with pytest.raises(TfselectError, match="not found"):
        resolve_specs(tmp_path / "none.csv", {}, {})
    with pytest.raises(TfselectError, match="no study 'nothing'"):
        study_best_specs(url, "nothing")


@pytest.mark.parametrize("option, value", [("--valid-seconds", "0"), ("--patience", "0"),
                                           ("--chunk", "-1")])
def test_train_best_refuses_non_positive_options(tmp_path, option, value):
    # In process: the option check is the command's; the subprocess route of every error
    # (exit 2, one line, no traceback) is test_audio_dataset.py::test_cli_subprocess_no_traceback.
    specs = [a for t in TARGETS for a in ("--spec", f"{t}=stft:n_fft=1024,hop=256")]
    r = CliRunner().invoke(app, ["train-best", *specs, "--out", str(tmp_path / "m"), option,
                                 value])  # fmt: skip
    assert one_line_error(r).startswith(f"tfselect: error: {option} must be positive")
    assert not (tmp_path / "m").exists()


def test_shared_slicqt_baseline_gives_a_blstm_a_matrix_form():
    from tfselect.demix.model import baseline_specs
    from tfselect.transforms import TransformSpec

    for spec in baseline_specs("shared-slicqt", network="blstm").values():
        assert TransformSpec.parse(spec).form == "rasterize"
    for spec in baseline_specs("shared-slicqt", network="cdae").values():
        assert TransformSpec.parse(spec).form == "ragged"
    zeropad = "slicqt:scale=mel,bins=50,fmin=40,fmax=22050,form=zeropad"
    assert set(baseline_specs("shared-slicqt", zeropad, "blstm").values()) == {zeropad}
