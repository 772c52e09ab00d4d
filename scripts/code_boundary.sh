#!/usr/bin/env bash
# The code boundary of SmolLM2-135M-Instruct: base model against a short RL run with the unit-test reward,
# pass@k on HumanEval from executed unit tests.
#
#   scripts/code_boundary.sh K PROBLEMS [STEPS] [OUT]
#
# K samples per problem on the first PROBLEMS HumanEval problems, for the base model and for the model after
# STEPS GRPO steps (default 8) on MBPP's train split with reward unit_tests; both are graded in the sandbox,
# compared (OUT/compare: pass@k curves, coverage, crossover k) and reported (OUT/report/report.html, with the RL
# run's curves). The base sampling and the RL run are independent and run at the same time.
# Sizes (environment): TOKENS (generation budget, default 256), RL_PROMPTS (prompts per step, 4), RL_GROUP
# (completions per prompt, 8), DEVICE (cpu), ENGINE_OPTIONS (rlvr sample's --engine-options, e.g. path=native for
# the torch engine's native bfloat16 decode step, docs/performance.md; unset: the default lean step, with which the
# documented runs were drawn). Examples:
#   TOKENS=128 RL_PROMPTS=2 RL_GROUP=4 scripts/code_boundary.sh 8 8 1   # a busy 2-core CPU (what ran; docs/code.md)
#   scripts/code_boundary.sh 64 164 8 runs/cb64                          # all of HumanEval, k = 64: ~3 h on 2 cores
#   DEVICE=cuda scripts/code_boundary.sh 256 164 50                      # a GPU: the same pipeline at k = 256
# Every stage resumes: run the same command again after a kill. Needs RLVR_DATA_DIR (or shared/data beside the
# checkout) for humaneval/ and mbpp/.
set -euo pipefail
K=${1:?usage: code_boundary.sh K PROBLEMS [STEPS] [OUT]}
PROBLEMS=${2:?usage: code_boundary.sh K PROBLEMS [STEPS] [OUT]}
STEPS=${3:-8}
OUT=${4:-runs/code_boundary_k${K}_p${PROBLEMS}}
TOKENS=${TOKENS:-256}
DEVICE=${DEVICE:-cpu}
RLVR=${RLVR:-rlvr}
export RLVR_DATA_DIR=${RLVR_DATA_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared/data}
mkdir -p "$OUT"
# Evaluation sampling as in Yue et al. (2025): temperature 0.6, top-p 0.95; the same for both models.
SAMPLE=(--problems humaneval --limit "$PROBLEMS" --template code --n "$K" --temperature 0.6 --top-p 0.95
        --max-new-tokens "$TOKENS" --batch-size 64 --seed 0 --device "$DEVICE")
[ -n "${ENGINE_OPTIONS:-}" ] && SAMPLE+=(--engine-options "$ENGINE_OPTIONS")

echo "[$(date -u +%T)] base model: $K samples x $PROBLEMS problems; RL: $STEPS GRPO steps on mbpp [train]"
$RLVR sample --model smollm2-135m "${SAMPLE[@]}" --out "$OUT/base.jsonl" &
BASE=$!
if [ ! -f "$OUT/rl/model/config.json" ]; then
  RESUME=(); [ -f "$OUT/rl/metrics.jsonl" ] && RESUME=(--resume)
  $RLVR train --model smollm2-135m --reward unit_tests --train-data mbpp --train-split train \
    --eval-data humaneval --eval-split test --eval-limit 2 --eval-samples 1 --eval-every 0 --prompt code \
    --steps "$STEPS" --prompts-per-step "${RL_PROMPTS:-4}" --group-size "${RL_GROUP:-8}" \
    --mini-batch-size "$(( ${RL_PROMPTS:-4} * ${RL_GROUP:-8} ))" --max-new-tokens "$TOKENS" \
    --lr 1e-5 --no-track-ref-kl --save-every 1 --device "$DEVICE" --seed 0 --quiet --out "$OUT/rl" "${RESUME[@]}"
fi
wait "$BASE"

echo "[$(date -u +%T)] RL model: $K samples x $PROBLEMS problems"
$RLVR sample --model "$OUT/rl/model" "${SAMPLE[@]}" --out "$OUT/rl.jsonl"

for name in base rl; do
  echo "[$(date -u +%T)] grading $name"
  $RLVR grade --problems humaneval --samples "$OUT/$name.jsonl" --out "$OUT/$name.parquet"
  $RLVR passk "$OUT/$name.parquet" --json > "$OUT/$name.passk.json"
done
$RLVR compare "$OUT/base.parquet" "$OUT/rl.parquet" --out "$OUT/compare"
$RLVR report "$OUT" "$OUT/rl" --out "$OUT/report" --title "SmolLM2-135M-Instruct on HumanEval: base and $STEPS GRPO steps, k = $K"
echo "[$(date -u +%T)] done: $OUT/compare/compare.json, $OUT/report/report.html"
