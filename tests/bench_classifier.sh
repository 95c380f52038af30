#!/bin/sh
# bench_classifier.sh - accuracy, training time, speed and memory of the
# ticket classifier (bin/ticketflow-train, bin/ticketflow-eval).
#
#   tests/bench_classifier.sh [--no-check]
#
# BANKING77 (77 intents, English; tests/data/banking77, CC BY 4.0, see its
# SOURCE.md and LICENSE): train on train.csv (timed, one thread,
# pinned to one core when taskset exists), evaluate on test.csv, classify the
# test set repeatedly for classifications/s, and take the peak RSS of the
# load + classify process. Prints
#   banking77: accuracy A macro_f1 F train_seconds T classify_per_sec N max_rss_mb M
# If deploy/taxonomy/train.csv exists (Chinese, column subcategory), also
#   taxonomy: accuracy A macro_f1 F n N (5-fold cv)
# and the classifier service's classification memory: a process that loads
# both models (build/models/default.model and third_level.model, trained
# here when make has not built them), the taxonomy and the lexicon, and
# classifies the taxonomy set as the service does (ticketflow-eval
# --service: keywords, model, third level, reasons, sentiment):
#   service: max_rss_mb M classify_per_sec N ...
# Exits 1 if a target is missed (accuracy >= 0.90, training < 30 s,
# >= 50000 classifications/s, RSS < 200 MB for BANKING77 and the service)
# unless --no-check.
#
# Environment: TICKETFLOW_DATA_DIR (the folder holding banking77/, default
# <repo>/tests/data), TICKETFLOW_BIN_DIR (default <repo>/bin), BENCH_ROUNDS
# (default 20).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${TICKETFLOW_BIN_DIR:-$ROOT/bin}
DATA=${TICKETFLOW_DATA_DIR:-$ROOT/tests/data}
ROUNDS=${BENCH_ROUNDS:-20}
CHECK=1
[ "${1:-}" = "--no-check" ] && CHECK=0

B77=$DATA/banking77
for f in "$BIN/ticketflow-train" "$BIN/ticketflow-eval"; do
    [ -x "$f" ] || { echo "bench_classifier: $f missing: run make first" >&2; exit 2; }
done
for f in "$B77/train.csv" "$B77/test.csv"; do
    [ -r "$f" ] || { echo "bench_classifier: $f missing (set TICKETFLOW_DATA_DIR)" >&2; exit 2; }
done

PIN=""
command -v taskset >/dev/null 2>&1 && PIN="taskset -c 0"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench_classifier.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# field NAME FILE: the value after NAME on the last line that has it
field () {
    awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) v = $(i + 1) } END { print v }' "$2"
}

# Training (the tool reports wall time of training proper, folds included)
$PIN "$BIN/ticketflow-train" --data "$B77/train.csv" --out "$TMP/b77.model" \
    > "$TMP/train.out" 2> "$TMP/train.err" \
    || { cat "$TMP/train.err" >&2; exit 1; }
train_seconds=$(field train_seconds "$TMP/train.out")

# Evaluation + speed; peak RSS from /usr/bin/time -v when present, else
# from the tool's own getrusage line
if [ -x /usr/bin/time ]; then
    $PIN /usr/bin/time -v "$BIN/ticketflow-eval" --model "$TMP/b77.model" \
        --data "$B77/test.csv" --bench "$ROUNDS" > "$TMP/eval.out" 2> "$TMP/eval.err" \
        || { cat "$TMP/eval.err" >&2; exit 1; }
    rss_kb=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$TMP/eval.err")
else
    $PIN "$BIN/ticketflow-eval" --model "$TMP/b77.model" \
        --data "$B77/test.csv" --bench "$ROUNDS" > "$TMP/eval.out" 2> "$TMP/eval.err" \
        || { cat "$TMP/eval.err" >&2; exit 1; }
    rss_kb=$(field max_rss_kb "$TMP/eval.out")
fi
accuracy=$(field accuracy "$TMP/eval.out")
macro_f1=$(field macro_f1 "$TMP/eval.out")
per_sec=$(field classify_per_sec "$TMP/eval.out")
rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
model_mb=$(awk -v b="$(wc -c < "$TMP/b77.model")" 'BEGIN { printf "%.1f", b / 1048576 }')

echo "banking77: accuracy $accuracy macro_f1 $macro_f1 train_seconds $train_seconds" \
     "classify_per_sec $per_sec max_rss_mb $rss_mb model_mb $model_mb"

TAX=$ROOT/deploy/taxonomy/train.csv
if [ -r "$TAX" ]; then
    if $PIN "$BIN/ticketflow-train" --data "$TAX" --label-column subcategory --cv 5 \
        > "$TMP/tax.out" 2> "$TMP/tax.err"; then
        echo "taxonomy: $(tail -n 1 "$TMP/tax.out") (5-fold cv, label subcategory)"
    else
        echo "taxonomy: cross-validation failed:" >&2
        cat "$TMP/tax.err" >&2
    fi
fi

# The service's memory with the default model loaded
service_rss_mb=""
if [ -r "$TAX" ]; then
    MODELS=$ROOT/build/models
    if [ ! -r "$MODELS/default.model" ]; then
        MODELS=$TMP/models
        mkdir -p "$MODELS"
        "$BIN/ticketflow-train" --data "$TAX" --label-column subcategory --out "$MODELS/default.model" \
            > /dev/null 2> "$TMP/models.err" \
        && "$BIN/ticketflow-train" --data "$TAX" --label-column third_level \
            --out "$MODELS/third_level.model" > /dev/null 2>> "$TMP/models.err" \
        || { cat "$TMP/models.err" >&2; exit 1; }
    fi
    if [ -x /usr/bin/time ]; then
        $PIN /usr/bin/time -v "$BIN/ticketflow-eval" --service --model "$MODELS/default.model" \
            --data "$TAX" --label-column subcategory --bench "$ROUNDS" > "$TMP/service.out" \
            2> "$TMP/service.err" || { cat "$TMP/service.err" >&2; exit 1; }
        service_kb=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$TMP/service.err")
    else
        $PIN "$BIN/ticketflow-eval" --service --model "$MODELS/default.model" \
            --data "$TAX" --label-column subcategory --bench "$ROUNDS" > "$TMP/service.out" \
            2> "$TMP/service.err" || { cat "$TMP/service.err" >&2; exit 1; }
        service_kb=$(field max_rss_kb "$TMP/service.out")
    fi
    service_rss_mb=$(awk -v k="$service_kb" 'BEGIN { printf "%.0f", k / 1024 }')
    service_mb=$(awk -v b="$(cat "$MODELS/default.model" "$MODELS/third_level.model" 2>/dev/null | wc -c)" \
        'BEGIN { printf "%.1f", b / 1048576 }')
    echo "service: max_rss_mb $service_rss_mb classify_per_sec $(field classify_per_sec "$TMP/service.out")" \
         "models_mb $service_mb (both models, taxonomy, lexicon; keywords + model + third level +" \
         "reasons + sentiment per ticket)"
fi

[ "$CHECK" = 1 ] || exit 0
fail=0
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.90) }' \
    || { echo "FAIL: accuracy $accuracy < 0.90" >&2; fail=1; }
awk -v t="$train_seconds" 'BEGIN { exit !(t < 30) }' \
    || { echo "FAIL: training took $train_seconds s (>= 30)" >&2; fail=1; }
awk -v n="$per_sec" 'BEGIN { exit !(n >= 50000) }' \
    || { echo "FAIL: $per_sec classifications/s (< 50000)" >&2; fail=1; }
awk -v m="$rss_mb" 'BEGIN { exit !(m < 200) }' \
    || { echo "FAIL: max RSS $rss_mb MB (>= 200)" >&2; fail=1; }
[ -z "$service_rss_mb" ] || awk -v m="$service_rss_mb" 'BEGIN { exit !(m < 200) }' \
    || { echo "FAIL: classifier service RSS $service_rss_mb MB (>= 200)" >&2; fail=1; }
exit $fail
