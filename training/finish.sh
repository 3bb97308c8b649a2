#!/usr/bin/env bash
# End of a training session: distil the predictor from the current LM checkpoint, measure policy
# quality and long-context behaviour, export the default model (int8) and run the speed bench.
# Usage: training/finish.sh [PREDICTOR_MINUTES] [LAYER0=dense|window]
set -euo pipefail
cd "$(dirname "$0")"
mins=${1:-15}
layer0=${2:-window}
python3 train_predictor.py --minutes "$mins" --seq 4096 --resume 2>&1 | tail -3
python3 eval.py --windows 3 --coref 12 --out ../bench 2>&1 | grep -E "bpb|coref|ablation" | tail -80
python3 eval_long.py --seq 16384 --n 2 --out ../bench
python3 export.py --ckpt work/ckpt/lm.pt --predictor work/pred/pred.pt --out ../models/default --int8 --drop-fp32 --layer0 "$layer0"
