"""Hand-written mutants of ``separate_array``, which mutmut skips (it never mutates decorated
functions, and ``separate_array`` runs under ``@torch.no_grad()``).

Each mutant is one textual replacement in a copy of the package, in the style of mutmut's
operators (comparison, constant, argument and statement changes); the fast separation tests
run against each copy and must fail. Prints one line per mutant and the score; exit status 1
if a mutant survives that is not listed as equivalent. Run from the repository root:
``python scripts/mutate_decorated.py`` (``make mutate`` runs it after mutmut).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = "tfselect/demix/separate.py"
TESTS = ["tests/test_demix_reference.py", "-k",
         "context_free or cross_fade or no_jumps or refuses_bad or separate_array_with_wiener"
         " or passes_wiener_iterations"]

# (original, mutant, why it is equivalent or None). Each original occurs once in TARGET.
MUTANTS: list[tuple[str, str, str | None]] = [
    # (the chunk checks live in check_chunking, which mutmut mutates)
    ("if not 1 <= wiener_iterations <= MAX_WIENER_ITERATIONS:",
     "if not 1 < wiener_iterations <= MAX_WIENER_ITERATIONS:", None),
    ("chunk = int(round(chunk_seconds * SAMPLE_RATE))",
     "chunk = int(round(chunk_seconds * SAMPLE_RATE)) + 1", None),
    ("ov = int(round(overlap_seconds * SAMPLE_RATE))", "ov = 0", None),
    ("range(0, max(n - ov, 1), chunk - ov)", "range(0, max(n - ov, 1), chunk)", None),
    ("range(0, max(n - ov, 1), chunk - ov)", "range(0, max(n - ov, 1), chunk - ov + 1)", None),
    ("range(0, max(n - ov, 1), chunk - ov)", "range(1, max(n - ov, 1), chunk - ov)", None),
    ("range(0, max(n - ov, 1), chunk - ov)", "range(0, max(n, 1), chunk - ov)",
     "the loop stops at the chunk that reaches the end (break), which starts before n - ov"),
    ("range(0, max(n - ov, 1), chunk - ov)", "range(0, max(n - ov, 2), chunk - ov)",
     "the bound only matters for n - ov < 1, where range(0, 1) and range(0, 2) both give "
     "the single start 0 (the step is at least one sample)"),
    ("e = min(s + chunk, n)", "e = min(s + chunk, n - 1)", None),
    ("e = min(s + chunk, n)", "e = min(s + chunk + 1, n)", None),
    ("if wiener:", "if not wiener:", None),
    ("stft, iterations=wiener_iterations)", "stft, iterations=1)", None),
    ("stft = (stft or SharedSTFT()).to(dev)", "stft = SharedSTFT().to(dev)", None),
    ("k = min(ov, e - s)", "k = ov",
     "every chunk is longer than the overlap: starts stop before n - ov, so e - s > ov"),
    ("if k > 0:", "if k > 1:",
     "a one-sample overlap has the ramp [0.5] on both sides, which normalises like 1 and 1"),
    ("(np.arange(k, dtype=np.float32) + 0.5) / k", "(np.arange(k, dtype=np.float32) + 1.0) / k",
     None),
    ("(np.arange(k, dtype=np.float32) + 0.5) / k", "np.arange(k, dtype=np.float32) / k", None),
    ("if s > 0:", "if s >= 0:",
     "a fade-in on the first chunk, which no other chunk overlaps, is divided out again by "
     "the weight normalisation"),
    ("if e < n:", "if e <= n:", None),
    ("w[-k:] = np.minimum(w[-k:], ramp[::-1])", "w[-k:] = ramp[::-1]", None),
    ("w[:k] = ramp  #", "w[:k] = ramp[::-1]  #", None),
    ("out[..., s:e] += y[0].cpu().numpy() * w", "out[..., s:e] = y[0].cpu().numpy() * w", None),
    ("out[..., s:e] += y[0].cpu().numpy() * w", "out[..., s:e] += y[0].cpu().numpy()", None),
    ("weight[s:e] += w", "weight[s:e] = w", None),
    ("        if e == n:\n            break", "        if e == n:\n            pass",
     "redundant: after the chunk that reaches n, the next start is at least n - ov, where "
     "the range stops anyway"),
    ("return out / np.maximum(weight, 1e-8)", "return out / np.maximum(weight, 1.0)",
     "the summed weights never fall below 1: exactly 1 where a chunk is at least two overlaps "
     "long (fade-in + fade-out = 1, no ramp at either end), above 1 where more chunks overlap"),
    ("return out / np.maximum(weight, 1e-8)", "return out", None),
]


def run(original: str, mutant: str) -> bool:
    """True if the tests fail (the mutant is killed) on a copy with ``mutant`` in place."""
    with tempfile.TemporaryDirectory(prefix="tfselect-mutant-") as tmp:
        work = Path(tmp)
        for name in ("tfselect", "tests"):
            shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", work)
        path = work / TARGET
        text = path.read_text()
        if text.count(original) != 1:
            raise SystemExit(f"mutate_decorated: {original!r} is not once in {TARGET}")
        path.write_text(text.replace(original, mutant))
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
            cwd=work, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(work)},
        )
        return r.returncode != 0


def main() -> int:
    killed, unexplained = 0, []
    for original, mutant, why in MUTANTS:
        dead = run(original, mutant)
        killed += dead
        status = "killed" if dead else ("equivalent" if why else "SURVIVED")
        print(f"{status:10} {original!r} -> {mutant!r}" + (f"  ({why})" if why and not dead
                                                            else ""))
        if not dead and not why:
            unexplained.append(mutant)
    print(f"separate_array: {killed}/{len(MUTANTS)} hand mutants killed, "
          f"{sum(1 for *_, w in MUTANTS if w)} listed as equivalent")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
