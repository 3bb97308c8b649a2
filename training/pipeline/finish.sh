#!/usr/bin/env bash
# End of a training session: evaluate the LM checkpoint, distil the predictor from it, export the
# default model (int8), then in parallel measure policy quality, long-context behaviour, greedy
# samples and speed. Writes bench/ and models/default/.
# Usage: [CKPT=work/ckpt] [PRED=work/pred] [PRED_ARGS="--taps 1,2,3 --hidden 40 --dist"] training/pipeline/finish.sh [PREDICTOR_MINUTES] [LAYER0=dense|window]
# (PRED_ARGS apply when PRED holds no predictor yet; otherwise its training resumes with its own layout)
set -euo pipefail
cd "$(dirname "$0")/.."  # training/: work/ and the scripts below are relative to it
mins=${1:-15}
layer0=${2:-window}
ckpt=${CKPT:-work/ckpt}
pred=${PRED:-work/pred}
# train.py logs a final evaluation when it ends on time; a run that was stopped early gets one here
tail -n 1 "$ckpt/log.jsonl" | grep -q '"final": true' || python3 evaluation/final_eval.py "$ckpt/lm.pt" | tail -c 300
python3 evaluation/plot_curve.py "$ckpt/log.jsonl"
python3 pipeline/train_predictor.py --lm "$ckpt/lm.pt" --out "$pred" --minutes "$mins" --seq 4096 --resume --threads 2 ${PRED_ARGS:-} 2>&1 | tail -2
python3 pipeline/export.py --ckpt "$ckpt/lm.pt" --predictor "$pred/pred.pt" --out ../models/default --int8 --drop-fp32 --layer0 "$layer0" \
  2>&1 | grep -v "WARN\|W:onnx" > work/export.log
(python3 evaluation/eval.py --lm "$ckpt/lm.pt" --predictor "$pred/pred.pt" --windows 3 --coref 10 --coref-seq 2560 --out ../bench --threads 1 > work/eval.log 2>&1
 if grep -q '"ngram_max": [1-9]' ../models/default/manifest.json; then  # the same policies with the n-gram lookup off: attention alone
   python3 evaluation/eval.py --lm "$ckpt/lm.pt" --predictor "$pred/pred.pt" --no-lookup --policies dense,oracle,tokenbutler,window,h2o,quest --budgets 0.1 \
     --windows 3 --coref 10 --coref-seq 2560 --coref-distances "" --out ../bench/no-lookup --threads 1 > work/eval-nolookup.log 2>&1
 fi) &
# the headline margins on 12 windows (the full table above has 3: too few to tell 1% apart), in path and in dependency order
(for order in path dep; do
   python3 evaluation/eval.py --lm "$ckpt/lm.pt" --predictor "$pred/pred.pt" --windows 12 --policies dense,oracle,tokenbutler,window,h2o,quest --budgets 0.05,0.1 \
     --coref 0 --no-ablation $([ $order = dep ] && echo --dep-order) --out ../bench/margins-$order --threads 1 > work/eval-margins-$order.log 2>&1
 done) &
python3 evaluation/eval.py --lm "$ckpt/lm.pt" --predictor "$pred/pred.pt" --seq 4096 --windows 6 --budgets 0.05,0.1 --coref 0 --no-ablation \
  --policies dense,oracle,tokenbutler,tokenbutler-l0w,window,h2o,quest \
  --out ../bench/seq4096 --threads 1 > work/eval4k.log 2>&1 &   # the length the LM and predictor train at
(python3 evaluation/eval_long.py --lm "$ckpt/lm.pt" --seq 16384 --n 2 --out ../bench --threads 1 > work/eval_long.log 2>&1
 python3 evaluation/samples.py --lm "$ckpt/lm.pt" --n 10 > work/samples.log 2>&1) &
(python3 evaluation/eval_prefill.py --ctx 8192 --tail 256 --windows 4 --budgets 512,2048 --out ../bench > work/eval_prefill.log 2>&1
 python3 evaluation/eval_prefill.py --ctx 4096 --tail 4096 --follow 64 --windows 2 --budgets 2048 --out ../bench --name prefill-quality-cold >> work/eval_prefill.log 2>&1) &
wait
(cd .. && npm run bench > training/work/bench.log 2>&1)  # alone: ratios are measured side by side, but a quiet machine is still fairer
tail -n 5 work/export.log work/eval.log work/eval-margins-path.log work/eval-margins-dep.log work/eval-nolookup.log work/eval4k.log work/eval_long.log work/eval_prefill.log work/bench.log
