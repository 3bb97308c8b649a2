"""Appends one held-out evaluation of the checkpoint's EMA weights to its log.jsonl (end of a run)."""
import json
import pathlib
import sys

import torch
from tokenizers import Tokenizer

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.metrics import Evaluator
from tbtrain.model import LM, Config
from tbtrain.paths import TRAINING

ck = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "work/ckpt/lm.pt")
work = TRAINING / "work"
torch.set_num_threads(2)
st = torch.load(ck, weights_only=False)
lm = LM(Config(**st["config"])); lm.load_state_dict(st["ema"])
m = Evaluator(work / "tokens", Tokenizer.from_file(str(work / "tokenizer.json")), st["args"].get("eval_seq", 2048))(lm)
m.update(tokens=st["tokens"], step=st["step"], cpu_hours=st.get("cpu_seconds", 0) / 3600, final=True)
with open(ck.parent / "log.jsonl", "a") as f:
    f.write(json.dumps(m) + "\n")
print(json.dumps(m))
