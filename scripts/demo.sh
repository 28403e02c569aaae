#!/usr/bin/env bash
# The whole tfselect job on the synthetic demo corpus, as `make demo` runs it, with the
# defaults of every command: the built-in demo corpus (what a command without --root uses;
# built once in the cache, ~100 MB) and the default storage (sqlite:///studies/tfselect.db),
# so `tfselect best --target vocals` or a search without --root afterwards meet the same
# corpus and studies. DEMO_ROOT / STORAGE choose others (then demo-data writes the corpus).
#   1. corpus      the built-in one, or demo-data into $DEMO_ROOT (once; reused afterwards)
#   2. search      a short search per target, studies $STUDY-vocals ... $STUDY-other
#   3. report      the report of those four studies: $OUT/best.csv holds all four targets
#   4. train-best  a short CPU training of the per-target demixer from that best.csv
#   5. evaluate    museval (BSSEval v4) on the demo test tracks
#   6. separate    one test mixture into four stems
# then a summary: the best transform per target, the demixer's median SDR (next to the
# baselines' when BASELINES names some) and where the stems are.
#
# Every size is an environment variable (the Makefile passes its own variables through):
# re-running adds TRIALS more trials per target and resumes the training (EPOCHS is the total).
set -euo pipefail

TFSELECT=${TFSELECT:-.venv/bin/tfselect}   # may be several words, e.g. "python -m tfselect"
PYTHON=${PYTHON:-.venv/bin/python}
DEMO_ROOT=${DEMO_ROOT:-}      # empty: the built-in demo corpus (no --root)
STORAGE=${STORAGE:-}          # empty: the default storage (no --storage)
STUDY=${STUDY:-demo}
OUT=${OUT:-reports/demo}
MODEL=${MODEL:-models/demo}
STEMS=${STEMS:-separated/demo}
TARGETS=${TARGETS:-vocals drums bass other}
TRIALS=${TRIALS:-8}            # search trials per target (this run)
CLIP_SECONDS=${CLIP_SECONDS:-4}  # search clip length
BOOTSTRAP=${BOOTSTRAP:-200}    # report: bootstrap resamples of the correlation intervals
EPOCHS=${EPOCHS:-2}            # train-best: epochs in total
STEPS=${STEPS:-3}              # train-best: steps per epoch
BATCH_SIZE=${BATCH_SIZE:-2}    # train-best: chunks per step
CHUNK=${CHUNK:-2}              # train-best: training chunk, seconds
VALID_SECONDS=${VALID_SECONDS:-4}
BASELINES=${BASELINES:-}       # e.g. "stft shared-slicqt": also train and evaluate those
CORPUS_TRACKS=${CORPUS_TRACKS:-8}     # demo-data, when the corpus is written
CORPUS_SECONDS=${CORPUS_SECONDS:-12}
QUIET=${QUIET:-}               # non-empty: no progress bars (logs, tests)
SEARCH_OPTS=${SEARCH_OPTS:-}   # more options for every search, e.g. "--config mine.toml"
TRAIN_OPTS=${TRAIN_OPTS:-}     # more options for every train-best, e.g. "--batch-size 2"

read -r -a TF <<<"$TFSELECT"
read -r -a search_opts <<<"$SEARCH_OPTS"
read -r -a train_opts <<<"$TRAIN_OPTS"
quiet=()
[ -n "$QUIET" ] && quiet=(--quiet)

# Print each command before running it, as make does, and its wall time after it. Each word
# is printed as a shell reads it back (a path with spaces, such as the demo mixture's, in
# single quotes), so the line can be pasted into a shell as it is.
TIMEFORMAT="  (%0R s; CPU %0U s user + %0S s system)"
quote() {  # plain words as they are, others in single quotes (a ' inside becomes '\'')
    case $1 in
        '' | *[!A-Za-z0-9_./:=,+@%-]*) printf "'%s'" "${1//\'/\'\\\'\'}" ;;
        *) printf '%s' "$1" ;;
    esac
}
run() {
    printf '$ tfselect'
    for word in "$@"; do
        printf ' '
        quote "$word"
    done
    printf '\n'
    time "${TF[@]}" "$@"
}

# --root / --storage only when asked for: otherwise the defaults every command shares.
root=()
storage=()
[ -n "$STORAGE" ] && storage=(--storage "$STORAGE")
if [ -z "$DEMO_ROOT" ]; then
    unset MUSDB_PATH  # the defaults would mean your MUSDB18 otherwise
    DEMO_ROOT=$("$PYTHON" -c 'from tfselect.audio.demo import demo_root; print(demo_root())')
    echo "demo corpus: the built-in one, $DEMO_ROOT (every command without --root uses it)"
elif [ -f "$DEMO_ROOT/tfselect-demo.json" ]; then
    root=(--root "$DEMO_ROOT")
    echo "demo corpus: $DEMO_ROOT (already written)"
else
    root=(--root "$DEMO_ROOT")
    run demo-data --out "$DEMO_ROOT" --tracks "$CORPUS_TRACKS" --seconds "$CORPUS_SECONDS"
fi

studies=()
for target in $TARGETS; do
    run search --target "$target" --study "$STUDY-$target" --trials "$TRIALS" \
        --seconds "$CLIP_SECONDS" "${root[@]}" "${storage[@]}" "${quiet[@]}" "${search_opts[@]}"
    studies+=(--study "$STUDY-$target")
done
run report "${studies[@]}" "${storage[@]}" "${root[@]}" --out "$OUT" --bootstrap "$BOOTSTRAP"

train=("${root[@]}" --epochs "$EPOCHS" --steps "$STEPS" --batch-size "$BATCH_SIZE"
       --chunk "$CHUNK" --valid-seconds "$VALID_SECONDS" "${quiet[@]}" "${train_opts[@]}")
models=("$MODEL")
run train-best --best "$OUT/best.csv" --out "$MODEL" "${train[@]}"
for baseline in $BASELINES; do
    run train-best --baseline "$baseline" --out "$MODEL-$baseline" "${train[@]}"
    models+=("$MODEL-$baseline")
done
for model in "${models[@]}"; do
    run evaluate --model "$model" "${root[@]}" "${quiet[@]}"
done

mixture=$(find "$DEMO_ROOT/test" -name mixture.wav | sort | head -n 1)
# --overwrite: a rerun of the demo replaces the stems its previous run wrote
run separate --model "$MODEL" --out "$STEMS" --overwrite "${quiet[@]}" "$mixture"

# The summary, read back from the files the commands wrote, at most 80 columns wide.
"$PYTHON" -m tfselect.cli.demo_summary "$OUT/best.csv" "$STEMS" "${models[@]}"
