#!/usr/bin/env bash
# The published CPU comparison (README, "Does it pay off?"): a 50-track synthetic corpus,
# a 16-candidate search per target, the report's best.csv, then `tfselect compare` of the
# selected transforms against the STFT at an equal step budget, 3 seeds, 2 runs at a time.
# Every step resumes: rerun the script after an interruption.
set -euo pipefail
TF=${TFSELECT:-.venv/bin/tfselect}
ROOT=${ROOT:-data/compare}
STORAGE=${STORAGE:-sqlite:///studies/compare.db}
OUT=${OUT:-runs/compare-cpu}
CONFIGS=${CONFIGS:-selected,stft}
SEEDS=${SEEDS:-3}
JOBS=${JOBS:-2}

[ -f "$ROOT/tfselect-demo.json" ] || $TF demo-data --out "$ROOT" --tracks 40 --seconds 30
studies=()
for t in vocals drums bass other; do
    # once a study has a complete trial it is kept as it is (a rerun adds no candidates)
    $TF best --target "$t" --study "compare-$t" --storage "$STORAGE" >/dev/null 2>&1 ||
        $TF search --target "$t" --study "compare-$t" --trials 16 --root "$ROOT" \
            --storage "$STORAGE" --quiet
    studies+=(--study "compare-$t")
done
$TF report "${studies[@]}" --storage "$STORAGE" --root "$ROOT" --out reports/compare --bootstrap 200
$TF compare --preset cpu --best reports/compare/best.csv --root "$ROOT" --out "$OUT" \
    --configs "$CONFIGS" --seeds "$SEEDS" --jobs "$JOBS" --quiet
