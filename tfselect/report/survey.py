"""Do the cheap metrics predict the oracles better than counting bins? A survey's report.

A survey (:mod:`tfselect.search.survey`) scores every candidate of a space-filling design on
every clip with every metric, so each metric is a matrix (candidates, tracks) of per-track
means (a track's clips are not independent; the track is the unit, as in
:mod:`tfselect.report.paired`). Per target, per oracle and per predictor (each cheap metric,
and the trivial predictors ``bins`` and ``redundancy``), over the candidates:

- ``spearman``: rank correlation of the predictor's and the oracle's candidate means (mean
  over tracks), with a percentile bootstrap 95 % interval that resamples tracks *and*
  candidates (a predictor must hold on other music and on other transforms);
- ``partial``: the partial Spearman correlation given the trivial predictors (ranks of bins
  and redundancy, and whether the candidate is an STFT; for the STFT, bins and redundancy
  fix n_fft and hop), with the same kind of interval;
- ``gain``: |spearman| of the predictor minus |spearman| of the best trivial predictor (the
  one with the largest |spearman| on the data), on the same resamples, with its interval;
  ``verdict`` "beats trivial" when the interval lies above 0, "worse" below, else "not
  distinguishable". Absolute values: a metric ranking the oracle backwards is as useful.

And a combination: ridge regressions (standardised features, fixed ``RIDGE_ALPHA``) predict
the oracle from the trivial features, from the cheap metrics, and from both, cross-validated
leaving one family out (stft, log, mel, bark, vqlog: a combination must carry over to a
family it was not fitted on); their out-of-fold predictions are compared with the oracle by
Spearman, each model's gain over the trivial one with a bootstrap interval over candidates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tfselect.report.tables import _spearman_rows, spec_bins, write_csv
from tfselect.search.study import read_tags

TRIVIAL = ("bins", "redundancy")
RIDGE_ALPHA = 1.0
N_BOOT = 1000
SURVEY_FILES = ("survey.csv", "survey_predictors.csv", "survey_ridge.csv")


def _groups() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(cheap metrics, oracles) from tfselect.metrics."""
    from tfselect.metrics import GROUPS

    return GROUPS["sparsity"] + GROUPS["ridges"], tuple(GROUPS["oracles"])


def family(spec: str) -> str:
    """The family of a candidate: "stft" or its sliCQT scale (log, mel, bark, vqlog)."""
    from tfselect.transforms import TransformSpec

    s = TransformSpec.parse(spec)
    return "stft" if s.kind == "stft" else str(s.scale)


def survey_frame(studies: Sequence) -> pd.DataFrame:
    """One row per distinct complete candidate of each survey study.

    Columns: target, study, number, spec, family, reference (name or ""), bins, then per
    metric its mean over tracks of the per-track mean over clips, then ``metric@track`` per
    metric and track (the values the bootstraps resample).
    """
    from optuna.trial import TrialState

    from tfselect.search.survey import CLIP_METRICS

    rows = []
    for st in studies:
        tags = read_tags(st)
        track_of = tags.clip_tracks() if tags else {}
        seen: set[str] = set()
        for t in st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            spec = t.user_attrs.get("spec")
            per_clip = t.user_attrs.get(CLIP_METRICS)
            if not spec or not per_clip or spec in seen or "reused_from" in t.user_attrs:
                continue
            seen.add(spec)
            row = {
                "target": tags.target, "study": st.study_name, "number": t.number, "spec": spec,
                "family": family(spec), "reference": t.user_attrs.get("reference", ""),
                "bins": spec_bins(spec),
            }  # fmt: skip
            per_track: dict[str, dict[str, float]] = {}
            for metric, values in per_clip.items():
                by_track: dict[str, list[float]] = {}
                for cid, v in values.items():
                    if v is not None and math.isfinite(v):
                        by_track.setdefault(track_of.get(int(cid), cid), []).append(v)
                per_track[metric] = {k: float(np.mean(v)) for k, v in sorted(by_track.items())}
                row[metric] = float(np.mean(list(per_track[metric].values()))) if by_track else (
                    math.nan)
            for metric, tracks in per_track.items():
                for track, v in tracks.items():
                    row[f"{metric}@{track}"] = v
            rows.append(row)
    return pd.DataFrame(rows)


def track_matrix(df: pd.DataFrame, metric: str) -> tuple[np.ndarray, list[str]]:
    """(candidates, tracks) per-track means of ``metric`` (``bins``: repeated per track)."""
    cols = sorted(c for c in df.columns if c.startswith(f"{metric}@"))
    if not cols:
        tracks = _tracks(df)
        return np.repeat(df[metric].to_numpy(float)[:, None], len(tracks), axis=1), tracks
    return df[cols].to_numpy(float), [c.split("@", 1)[1] for c in cols]


def _tracks(df: pd.DataFrame) -> list[str]:
    return sorted({c.split("@", 1)[1] for c in df.columns if "@" in c})


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.rankdata(a, axis=-1)


def partial_rows(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Row-wise partial Spearman of x and y (B, n) given the columns of z (B, n, k): the
    Pearson correlation of the rank residuals after a least-squares fit on [1, ranks of z]."""
    rz = np.concatenate([np.ones(z.shape[:2] + (1,)), _ranks(np.swapaxes(z, 1, 2)).swapaxes(1, 2)],
                        axis=2)  # fmt: skip
    proj = rz @ np.linalg.pinv(rz)  # (B, n, n) hat matrices
    rx, ry = _ranks(x), _ranks(y)
    ex = rx - np.einsum("bij,bj->bi", proj, rx)
    ey = ry - np.einsum("bij,bj->bi", proj, ry)
    den = np.sqrt((ex * ex).sum(1) * (ey * ey).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, (ex * ey).sum(1) / den, np.nan)


def _ci(samples: np.ndarray) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    if s.size < 10:
        return math.nan, math.nan
    lo, hi = np.percentile(s, [2.5, 97.5])
    return float(lo), float(hi)


@dataclass
class _Resamples:
    """Bootstrap draws of candidates (B, C) and tracks (B, T); row 0 of each is the data."""

    cand: np.ndarray
    track: np.ndarray

    @classmethod
    def draw(cls, n_cand: int, n_track: int, n_boot: int, seed: int) -> _Resamples:
        rng = np.random.default_rng(seed)
        cand = np.vstack([np.arange(n_cand), rng.integers(0, n_cand, (n_boot, n_cand))])
        track = np.vstack([np.arange(n_track), rng.integers(0, n_track, (n_boot, n_track))])
        return cls(cand, track)

    def means(self, m: np.ndarray) -> np.ndarray:
        """(1 + B, C): candidate means over the resampled tracks, of resampled candidates."""
        picked = m[self.cand[:, :, None], self.track[:, None, :]]
        with np.errstate(invalid="ignore"), _quiet():
            return np.nanmean(picked, axis=2)


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def predictors_frame(df: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """Per target, oracle and predictor: spearman, partial, gain over the best trivial
    predictor, each with its two-way bootstrap interval (module docstring), and a verdict.

    Columns: target, oracle, predictor, kind (trivial/cheap), n (candidates), tracks,
    spearman(_lo, _hi), partial(_lo, _hi), best_trivial, gain(_lo, _hi), verdict.
    """
    cheap, oracles = _groups()
    rows = []
    for target, sub in df.groupby("target", sort=True):
        sub = sub.reset_index(drop=True)
        is_stft = (sub["family"] == "stft").to_numpy(float)
        mats = {m: track_matrix(sub, m)[0] for m in (*TRIVIAL, *cheap, *oracles)
                if m in sub.columns}  # fmt: skip
        present_oracles = [o for o in oracles if o in mats]
        predictors = [m for m in (*TRIVIAL, *cheap) if m in mats]
        finite = np.all([np.isfinite(mats[m]).any(axis=1) for m in mats], axis=0)
        keep = np.flatnonzero(finite)
        n_tracks = mats[present_oracles[0]].shape[1] if present_oracles else 0
        res = _Resamples.draw(len(keep), max(n_tracks, 1), n_boot, seed)
        means = {m: res.means(a[keep]) for m, a in mats.items()}
        stft = is_stft[keep][res.cand]
        z = np.stack([means[t] for t in TRIVIAL if t in means] + [stft], axis=2)
        for oracle in present_oracles:
            y = means[oracle]
            rho = {p: _spearman_rows(means[p], y) for p in predictors}
            trivial = [t for t in TRIVIAL if t in rho]
            best = max(trivial, key=lambda t: abs(rho[t][0])) if trivial else None
            for p in predictors:
                nan = np.full(len(y), np.nan)
                partial = partial_rows(means[p], y, z) if p not in TRIVIAL else nan
                row = {"target": target, "oracle": oracle, "predictor": p,
                       "kind": "trivial" if p in TRIVIAL else "cheap", "n": len(keep),
                       "tracks": n_tracks, "best_trivial": best or ""}  # fmt: skip
                row["spearman"] = float(rho[p][0])
                row["spearman_lo"], row["spearman_hi"] = _ci(rho[p][1:])
                row["partial"] = float(partial[0])
                row["partial_lo"], row["partial_hi"] = _ci(partial[1:])
                gain = np.abs(rho[p]) - np.abs(rho[best]) if best else np.full_like(rho[p], np.nan)
                row["gain"] = float(gain[0]) if p != best else 0.0
                lo, hi = _ci(gain[1:]) if p != best else (math.nan, math.nan)
                row["gain_lo"], row["gain_hi"] = lo, hi
                row["verdict"] = _verdict(lo, hi) if p != best else "best trivial"
                rows.append(row)
    return pd.DataFrame(rows)


def _verdict(lo: float, hi: float) -> str:
    if lo > 0:
        return "beats trivial"
    if hi < 0:
        return "worse"
    return "not distinguishable"


def ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      alpha: float = RIDGE_ALPHA) -> np.ndarray:
    """Ridge regression on standardised features (train statistics; constant columns
    dropped), unpenalised intercept: the predictions for ``x_test`` (n_test,)."""
    mu, sd = x_train.mean(0), x_train.std(0)
    use = sd > 1e-12
    if not use.any():
        return np.full(len(x_test), y_train.mean())
    a = (x_train[:, use] - mu[use]) / sd[use]
    b = (x_test[:, use] - mu[use]) / sd[use]
    y0 = y_train.mean()
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y_train - y0))
    return y0 + b @ w


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Leave-one-group-out predictions of y (n,) from x (n, k) by :func:`ridge_fit_predict`
    (NaN for a group that leaves fewer than 3 candidates to fit on)."""
    pred = np.full(len(y), np.nan)
    for g in np.unique(groups):
        test = groups == g
        if (~test).sum() >= 3:
            pred[test] = ridge_fit_predict(x[~test], y[~test], x[test])
    return pred


def ridge_frame(df: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> pd.DataFrame:
    """Per target and oracle: out-of-fold Spearman of three ridge models (trivial, cheap,
    cheap+trivial), leave-one-family-out, and each model's gain over the trivial one with a
    bootstrap interval over candidates.

    Features: log bins, log redundancy and is-STFT (trivial); the cheap metrics' candidate
    means (cheap). Columns: target, oracle, model, n, spearman, gain, gain_lo, gain_hi, verdict.
    """
    cheap, oracles = _groups()
    rows = []
    rng = np.random.default_rng([seed, 2])
    for target, sub in df.groupby("target", sort=True):
        cheap_cols = [c for c in cheap if c in sub.columns]
        trivial = np.column_stack([np.log(sub["bins"].to_numpy(float)),
                                   np.log(sub["redundancy"].to_numpy(float))
                                   if "redundancy" in sub.columns else np.zeros(len(sub)),
                                   (sub["family"] == "stft").to_numpy(float)])  # fmt: skip
        feats = {"trivial": trivial, "cheap": sub[cheap_cols].to_numpy(float)}
        feats["cheap+trivial"] = np.column_stack([feats["cheap"], trivial])
        groups = sub["family"].to_numpy()
        for oracle in (o for o in oracles if o in sub.columns):
            y = sub[oracle].to_numpy(float)
            ok = np.isfinite(y) & np.all(np.isfinite(feats["cheap+trivial"]), axis=1)
            preds = {k: out_of_fold(f[ok], y[ok], groups[ok]) for k, f in feats.items()}
            n = int(ok.sum())
            idx = np.vstack([np.arange(n), rng.integers(0, n, (n_boot, n))])
            yb = y[ok][idx]
            rho = {}
            for k, p in preds.items():
                good = np.isfinite(p)
                if not good.any():  # too few candidates outside every family to fit on
                    rho[k] = np.full(len(idx), np.nan)
                    continue
                pb = np.where(good, p, p[good].mean())[idx]  # unfitted: the middle rank
                rho[k] = _spearman_rows(pb, yb)
            for k in preds:
                gain = rho[k] - rho["trivial"]
                lo, hi = _ci(gain[1:]) if k != "trivial" else (math.nan, math.nan)
                rows.append({"target": target, "oracle": oracle, "model": k, "n": n,
                             "spearman": float(rho[k][0]),
                             "gain": float(gain[0]) if k != "trivial" else 0.0,
                             "gain_lo": lo, "gain_hi": hi,
                             "verdict": _verdict(lo, hi) if k != "trivial" else "baseline"})
    return pd.DataFrame(rows)


def survey_plot(df: pd.DataFrame, pred: pd.DataFrame, target: str, oracle: str,
                path: Path) -> Path | None:
    """Each predictor against ``oracle`` for ``target``, one panel each, coloured by family."""
    from tfselect.report.plots import _plt, _save

    plt = _plt()
    sub = df[df["target"] == target]
    rows = pred[(pred["target"] == target) & (pred["oracle"] == oracle)]
    if sub.empty or rows.empty or oracle not in sub.columns:
        return None
    names = list(rows["predictor"])
    ncols = min(4, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.8 * nrows), squeeze=False)
    palette = plt.get_cmap("tab10")
    families = sorted(sub["family"].unique())
    colour = {f: palette(i % 10) for i, f in enumerate(families)}
    for ax, (_, r) in zip(axes.flat, rows.iterrows(), strict=False):
        p = r["predictor"]
        for f in families:
            pts = sub[sub["family"] == f]
            ax.scatter(pts[p], pts[oracle], s=12, color=colour[f], label=f, alpha=0.8)
        ci = f" [{r['spearman_lo']:.2f}, {r['spearman_hi']:.2f}]" if np.isfinite(
            r["spearman_lo"]) else ""
        ax.set_title(f"{p}: ρ={r['spearman']:.2f}{ci}", fontsize=8)
        ax.set_xlabel(p, fontsize=8)
        ax.set_ylabel(f"{oracle} SDR (dB)", fontsize=8)
        ax.tick_params(labelsize=7)
        if p == "bins":  # 10 to 8000: a log axis
            ax.set_xscale("log")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{target} survey: predictors against the {oracle} oracle "
                 f"({int(rows['n'].iloc[0])} candidates)", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


@dataclass
class SurveyReport:
    """What :func:`survey_report` wrote: the folder, the files, the tables."""

    out: Path
    files: list[Path] = field(default_factory=list)
    survey: pd.DataFrame | None = None
    predictors: pd.DataFrame | None = None
    ridge: pd.DataFrame | None = None


def survey_report(studies: Sequence, out: Path, n_boot: int = N_BOOT, seed: int = 0,
                  with_plots: bool = True) -> SurveyReport:
    """Write survey.csv, survey_predictors.csv, survey_ridge.csv and survey_<target>.png
    (against the MPI oracle) of ``studies`` into ``out`` (each file written atomically)."""
    from tfselect.atomic import check_out_dir
    from tfselect.errors import TfselectError

    out = Path(out)
    df = survey_frame(studies)
    if df.empty:
        raise TfselectError("the survey holds no complete candidate yet: nothing to report")
    check_out_dir(out)
    rep = SurveyReport(out, survey=df)
    rep.predictors = predictors_frame(df, n_boot, seed)
    rep.ridge = ridge_frame(df, n_boot, seed)
    for name, table in zip(SURVEY_FILES, (df, rep.predictors, rep.ridge), strict=True):
        rep.files.append(write_csv(table, out / name))
    if with_plots:
        for target in sorted(df["target"].unique()):
            path = survey_plot(df, rep.predictors, target, "mpi", out / f"survey_{target}.png")
            if path is not None:
                rep.files.append(path)
    return rep


def summary_lines(pred: pd.DataFrame, ridge: pd.DataFrame, oracle: str = "mpi") -> list[str]:
    """Per target, one line: the best trivial predictor and its |ρ|, the cheap metrics that
    beat it (interval above 0) and the ridge combination's gain; for the command's output."""
    lines = []
    for target, rows in pred[pred["oracle"] == oracle].groupby("target", sort=True):
        best = rows["best_trivial"].iloc[0]
        rho = rows.loc[rows["predictor"] == best, "spearman"].iloc[0]
        wins = list(rows.loc[rows["verdict"] == "beats trivial", "predictor"])
        r = ridge[(ridge["target"] == target) & (ridge["oracle"] == oracle)
                  & (ridge["model"] == "cheap+trivial")]  # fmt: skip
        comb = ""
        if not r.empty:
            g = r.iloc[0]
            comb = (f"; ridge cheap+trivial {g['gain']:+.2f} "
                    f"[{g['gain_lo']:.2f}, {g['gain_hi']:.2f}]")
        lines.append(
            f"{target}: best trivial {best} |ρ|={abs(rho):.2f} ({int(rows['n'].iloc[0])} "
            f"candidates, {int(rows['tracks'].iloc[0])} tracks); beating it: "
            f"{', '.join(wins) if wins else 'none'}{comb}"
        )
    return lines


def run_and_report(
    target: str | None, *, storage: str, study: str | None, config, root: Path | None,
    candidates: int, out: Path, n_boot: int = N_BOOT, with_plots: bool = True,
    progress: bool = True,
) -> tuple[object | None, SurveyReport]:
    """``tfselect survey``: survey ``target`` (None: report only), then report every survey
    study of ``storage`` (or the one named ``study``) into ``out``.

    Returns (the :class:`tfselect.search.survey.SurveyResult` or None, the report).

    Raises:
        TfselectError: as :func:`tfselect.search.survey.run_survey`; no survey to report.
    """
    from tfselect.errors import TfselectError
    from tfselect.search.storage import open_storage
    from tfselect.search.study import tagged_studies
    from tfselect.search.survey import run_survey

    if n_boot < 0:
        raise TfselectError(f"--bootstrap must be >= 0, got {n_boot}")
    _precheck_out(Path(out))  # before hours of scoring, without creating anything yet
    result = None
    if target is not None:
        result = run_survey(target, storage=storage, study=study, config=config, root=root,
                            candidates=candidates, progress=progress)  # fmt: skip
    try:
        store = open_storage(storage, create=False)
    except TfselectError as exc:  # its advice names search; here a survey is missing
        raise TfselectError(str(exc).replace("`tfselect search`", "`tfselect survey --target "
                                             "T`")) from None
    studies = tagged_studies(store, names=[study] if study else None, surveys=True)
    if not studies:
        raise TfselectError("no survey in the storage (run `tfselect survey --target T` first)")
    return result, survey_report(studies, Path(out), n_boot, with_plots=with_plots)


def _precheck_out(out: Path) -> None:
    """TfselectError when ``out`` is a file or its nearest existing folder is not writable;
    creates nothing (a refused command leaves nothing behind)."""
    import os

    from tfselect.errors import TfselectError

    if out.exists() and not out.is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    here = out
    while not here.exists():
        here = here.parent
    if not here.is_dir() or not os.access(here, os.W_OK | os.X_OK):
        raise TfselectError(f"--out {out}: cannot write in {here}")
