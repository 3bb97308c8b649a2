"""Writes a tiny exported model plus PyTorch reference outputs for the TypeScript parity test
(test/unit/engine/parity.test.ts): dense chunked prefill logits, sparse decode logits and selected
indices (also for a step re-reading the last selection and one with neighbour fetch), and tokenizer ids
for sample texts.

python3 training/tests/make_parity_fixture.py OUT_DIR [--pointer] [--int8-kv]   (--pointer: with pointer heads in every layer and
the n-gram lookup, on ids from a 35-token range so that the lookup matches, and rotary pairs at per-head LM frequencies,
`pred_rot_pairs`, as the default model; without it: rotary importance queries and keys, `pred_rope`; --int8-kv: the compact
KV cache, config.kv_cache "int8", with the reference prefilling in the engine's 256-token chunks, since each chunk reads the
earlier ones' rounded rows)
"""
import copy
import json
import pathlib
import sys

import torch
from tokenizers import Tokenizer

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "training"))  # a script (test/unit/engine/parity.test.ts runs it): training/, the tbtrain library
from tbtrain.model import LM, Config
from tbtrain.model_folder import export
from tbtrain.predictor import Predictor
from tbtrain.selection import Cache, step

SAMPLES = [
    "export function add(a: number, b: number): number {\n  return a + b;\n}\n",
    "const s = `héllo ${name} 🎉`;\r\n\tif (x <= 3) { y(); }   \n",
    "// literal special: <|endoftext|> and <|file_sep|>\nimport { x } from './y';\n",
    "",
    "    \n\n  \t\n",
]


PREFILL_CHUNK = 256  # the engine's dense prefill chunk (engine.ts)


def main(out: pathlib.Path, pointer: bool = False, int8_kv: bool = False):
    torch.manual_seed(1)
    cfg = Config(vocab_size=4096, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, head_dim=16, ffn_dim=128,
                 pred_taps=(1, 2), pred_dist=True,  # a producer per consumer layer and a distance prior
                 pred_rope=0.0 if pointer else 10000.0,  # rotary importance queries/keys in one variant, ...
                 pred_rot_pairs=2 if pointer else 0,  # ... per-(layer, KV head) rotary pairs in the other
                 copy_heads=(3, 5, 10) if pointer else (), ngram_max=4 if pointer else 0,
                 kv_cache="int8" if int8_kv else "f32")
    hi = 40 if pointer else 4096  # token ids from [5, hi)
    lm, pred = LM(cfg).eval(), Predictor(cfg).eval()
    with torch.no_grad():
        pred.dist_w.normal_(0, 1.0)
        if cfg.pred_rot_pairs:  # each (layer, KV head) turns with its own pairs of the LM's RoPE frequencies
            pred.rot_pairs.copy_(torch.randint(0, cfg.head_dim // 2, pred.rot_pairs.shape))
        if lm.copy_gate is not None:  # a gate that varies with the hidden state and gives the pointers real weight
            lm.copy_gate.weight.normal_(0, 1.0); lm.copy_gate.bias.zero_()
        if lm.copy_gate_f is not None:
            lm.copy_gate_f.weight.normal_(0, 1.0)
    export(lm, pred, out, ROOT / "models/default/tokenizer.json", {"name": "parity-fixture", "selection": {"sinks": 4, "recent": 8}})
    ids = torch.randint(5, hi, (300,)).tolist()
    cache = Cache(cfg)
    if int8_kv:  # the engine prefills this in 256-token chunks; with the compact cache the second reads the first's rounded rows
        step(lm, pred, cache, ids[:PREFILL_CHUNK])
        logits, _, _ = step(lm, pred, cache, ids[PREFILL_CHUNK:290])
    else:
        logits, _, _ = step(lm, pred, cache, ids[:290])
    ref = {"prefill_ids": ids[:290], "prefill_logits": logits.tolist(), "steps": []}
    for t in ids[290:]:
        lg, sel, _ = step(lm, pred, cache, [t], policy="tokenbutler", budget=6, sinks=4, recent=8)
        ref["steps"].append({"id": t, "logits": lg.tolist(), "selected": {str(l): sorted_rows(v) for l, v in sel.items()}})
    nid = torch.randint(5, hi, (1,)).tolist()  # a decode step that re-reads the last selection (prediction interval)
    _, fresh, _ = step(lm, pred, copy.deepcopy(cache), nid, policy="tokenbutler", budget=6, sinks=4, recent=8)
    lg, sel2, _ = step(lm, pred, cache, nid, policy="tokenbutler", budget=6, sinks=4, recent=8, reuse=sel)
    ref["reuse_step"] = {"id": nid[0], "logits": lg.tolist(), "selected": {str(l): sorted_rows(v) for l, v in sel2.items()},
                         "differs_from_fresh": any(sorted_rows(sel2[l]) != sorted_rows(fresh[l]) for l in sel2)}
    nid = torch.randint(5, hi, (1,)).tolist()  # a fresh decode step with neighbour fetch (prediction interval > 1)
    _, plain, _ = step(lm, pred, copy.deepcopy(cache), nid, policy="tokenbutler", budget=6, sinks=4, recent=8)
    lg, sel3, _ = step(lm, pred, cache, nid, policy="tokenbutler", budget=6, sinks=4, recent=8, neighbors=True)
    ref["neighbor_step"] = {"id": nid[0], "logits": lg.tolist(), "selected": {str(l): sorted_rows(v) for l, v in sel3.items()},
                            "differs_from_plain": any(sorted_rows(sel3[l]) != sorted_rows(plain[l]) for l in sel3)}
    chunk = torch.randint(5, hi, (20,)).tolist()  # a sparse prefill chunk (S > 1) on the same cache
    lg, sel, _ = step(lm, pred, cache, chunk, policy="tokenbutler", budget=6, sinks=4, recent=8)
    ref["chunk"] = {"ids": chunk, "logits": lg.tolist(), "selected": {str(l): sorted_rows(v) for l, v in sel.items()}}
    tok = Tokenizer.from_file(str(ROOT / "models/default/tokenizer.json"))
    ref["tokenizer"] = [{"text": s, "ids": tok.encode(s, add_special_tokens=False).ids if "<|" not in s else None} for s in SAMPLES]
    (out / "reference.json").write_text(json.dumps(ref))


def sorted_rows(idx):
    return [sorted(r) for r in idx.tolist()]


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), "--pointer" in sys.argv[2:], "--int8-kv" in sys.argv[2:])
