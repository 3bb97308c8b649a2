"""Converts a model folder's int8 graphs to another KV-cache form (config.kv_cache: "int8", the compact
cache of tbtrain/kv_quant.py, or back to "f32"), keeping the graphs' own weights: the current builder
writes both graphs from the folder's fp16 weights with the new form (tbtrain/model_folder.quantize_int8),
then every weight initializer takes the folder's graph's value by name (models/default was exported from
an fp32 checkpoint that is not in the repository; a re-export from the fp16 weights would change them).

Checks before anything is written, on a real-looking token sequence:
  - the weights are the folder's: a first chunk (nothing cached) gives the folder graph's logits bit for bit;
  - the new cache rows are the old ones rounded (K, V within half a step of each row);
  - decode steps after a prefill over the new cache give distributions close to the old (top-1 agreement and
    KL printed; written only if the top-1 agrees on at least 95% of the steps).
Updates the manifest: config.kv_cache, the graphs' sha256, kvCache (bytes per token).

python3 training/pipeline/convert_kv.py --model models/default --kv int8
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import tempfile

import numpy as np
import onnx
from safetensors.torch import load_file

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import folder_config, lm_from_folder
from tbtrain.graph import weights_of
from tbtrain.model import Config
from tbtrain.model_folder import quantize_int8, take_weights
from tbtrain.ort_runner import GraphRunner
from tbtrain.predictor import Predictor


def built(folder: pathlib.Path, tmp: pathlib.Path, cfg: Config, layer0: str) -> dict[str, onnx.ModelProto]:
    lm = lm_from_folder(folder).eval()
    pred = Predictor(cfg)
    pred.load_state_dict({k[len("predictor."):]: v.float() for k, v in load_file(str(folder / "lm.fp16.safetensors")).items()
                          if k.startswith("predictor.")})
    names = quantize_int8(cfg, weights_of(lm, pred.eval()), tmp, layer0)
    return {k: onnx.load(str(tmp / v)) for k, v in names.items()}


def check(folder: pathlib.Path, cand: pathlib.Path, old_cfg: Config, new_cfg: Config, ids: list[int]) -> bool:
    old, new = GraphRunner(folder, cap=len(ids) + 8, cfg=old_cfg), GraphRunner(cand, cap=len(ids) + 8, cfg=new_cfg)
    a, b = old.run(ids[:64]), new.run(ids[:64])
    if not np.array_equal(a["logits"], b["logits"]):
        print("a first chunk's logits differ: the weights are not the folder's"); return False
    for l in range(new_cfg.n_layers):
        for r_old, r_new, s_new, off in ((old.k, new.k, new.ks, 128), (old.v, new.v, new.vs, 0)):
            x = r_old[l][:, :64].astype(np.float32)
            y = r_new[l][:, :64].astype(np.float32) - off if new.int8 else r_new[l][:, :64]
            step = s_new[l][:, :64, None] if new.int8 else 0 * x[..., :1] + 1e-6
            if np.any(np.abs(x - y * (step if new.int8 else 1)) > 0.5001 * step + 1e-6):
                print(f"layer {l}: the new cache rows are not the old ones rounded"); return False
    for i in range(64, len(ids) - 64, 256):  # prefill the rest in the engine's chunks
        old.run(ids[i:min(i + 256, len(ids) - 64)]); new.run(ids[i:min(i + 256, len(ids) - 64)])
    snaps = old.snapshot(), new.snapshot()
    agree = n = 0; worst = 0.0; kls = []
    logp = lambda x: x - np.log(np.exp(x - x.max()).sum()) - x.max()   # the logits are log-probabilities already (pointer mixture)
    for sparse in (False, True):  # 64 dense decode steps, then the same 64 as sparse (tokenbutler, budget 256) steps
        old.restore(snaps[0]); new.restore(snaps[1])
        for t in ids[-64:]:
            oa, ob = old.run([t], sparse=sparse, budget=256), new.run([t], sparse=sparse, budget=256)
            pa, pb = logp(oa["logits"][0].astype(np.float64)), logp(ob["logits"][0].astype(np.float64))
            kls.append(float((np.exp(pa) * (pa - pb)).sum()))
            worst = max(worst, float(abs(pa[pa.argmax()] - pb[pa.argmax()])))
            agree += int(oa["logits"].argmax() == ob["logits"].argmax()); n += 1
    print(f"decode steps at {len(ids) - 64}..{len(ids)} tokens, dense and sparse: top-1 agrees on {agree}/{n}, "
          f"KL(old || new) mean {np.mean(kls):.5f} max {np.max(kls):.5f} nats, max |change| of the old top-1's log-probability {worst:.4f}")
    return agree >= 0.95 * n


def heldout(folder: pathlib.Path) -> list[int]:
    """Two held-out windows (bench/shadowllm.md) end to end when they are on this machine, else random ids."""
    from tbtrain.paths import TRAINING
    from tbtrain.shadow_pred import heldout_windows
    if (TRAINING / "work/heldout/ws").is_dir():
        rows = heldout_windows(TRAINING / "work/heldout/ws", folder / "tokenizer.json", TRAINING / "work/shadow", 1024)["eval"]
        return np.concatenate([rows[0], rows[len(rows) // 2]]).tolist()
    return np.random.default_rng(0).integers(5, 4096, 2048).tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--kv", choices=["int8", "f32"], required=True)
    ap.add_argument("--tokens", default=None, help="a .npy of token ids for the check (default: held-out windows if present, else random)")
    args = ap.parse_args()
    folder = pathlib.Path(args.model)
    manifest = json.loads((folder / "manifest.json").read_text())
    old_cfg = folder_config(folder)
    new_cfg = Config(**{**old_cfg.to_dict(), "kv_cache": args.kv})
    ids = heldout(folder) if not args.tokens else np.load(args.tokens).tolist()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        graphs = built(folder, tmp, new_cfg, manifest.get("selection", {}).get("layer0", "dense"))
        out = tmp / "out"; out.mkdir()
        for kind, g in graphs.items():
            name = manifest["graphs"][kind]
            print(f"{name}: {take_weights(g, onnx.load(str(folder / name)))} weights taken from the folder's graph")
            onnx.save(g, str(out / name))
        (out / "manifest.json").write_text(json.dumps({**manifest, "config": new_cfg.to_dict()}))
        if not check(folder, out, old_cfg, new_cfg, ids):
            sys.exit("not written")
        for kind in graphs:
            name = manifest["graphs"][kind]
            (folder / name).write_bytes((out / name).read_bytes())
            manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    c = new_cfg
    rows = 2 * c.n_layers * c.n_kv_heads
    kv = rows * (c.head_dim + 4) if args.kv == "int8" else rows * c.head_dim * 4
    manifest["config"] = {**manifest["config"], "kv_cache": args.kv}
    manifest["kvCache"] = {"form": args.kv, "kvBytesPerToken": kv,
                           "bytesPerToken": kv + (c.n_layers - 1) * c.n_kv_heads * (c.imp_dim + 4) + 8}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{folder}: KV cache {args.kv}, {manifest['kvCache']}")


if __name__ == "__main__":
    main()
