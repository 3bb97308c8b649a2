"""Adds the ShadowLLM decode graphs (issue 29 item 3; tbtrain/shadow_export.py, docs/graph-contract.md "ShadowLLM
variant") to a model folder: dense.shadow.int8.onnx and sparse.shadow.int8.onnx (the folder's int8 graphs, rebuilt
by the same builder and quantizer with every weight taken from the folder's graph, plus the predictor and the
gathered paths), the predictor's fp16 weights (shadow.fp16.safetensors) and the manifest's `shadow` key (and the
two graphs' sha256 in `files`). The folder's other files and manifest keys are left as they are.

    python3 training/pipeline/export_shadow.py --pred training/work/shadow/pred-corpus/pred.pt --model models/default \\
        [--bpb training/work/shadow/engine_bpb.json]

--pred may also be the folder's own shadow.fp16.safetensors (a rebuild: the same graphs).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
import numpy as np
import onnx
import torch

from tbtrain.checkpoints import folder_config, lm_from_folder, predictor_from_folder
from tbtrain.graph import weights_of
from tbtrain.ort_runner import GraphRunner
from tbtrain.shadow_export import build_shadow, load_predictor, predictor_weights, save_predictor
from tbtrain.shadow_pred import n_params

PRED_FILE = "shadow.fp16.safetensors"


def sha(p: pathlib.Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default")
    ap.add_argument("--pred", required=True, help="train_shadow.py's pred.pt, or a shadow.fp16.safetensors")
    ap.add_argument("--bpb", nargs="*", default=None,
                    help="evaluation/shadow_engine.py's JSON files (corpus first, then held-out): the manifest's shadow.bpb")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = pathlib.Path(args.model)
    man = json.loads((folder / "manifest.json").read_text())
    before = {n: sha(folder / n) for n in man["files"]}
    assert before == man["files"], "the folder's files do not match its manifest"
    cfg = folder_config(folder)
    lm = lm_from_folder(folder).eval()
    tb = predictor_from_folder(folder, lm)
    sp = load_predictor(args.pred, cfg)
    pred_meta = {"layers": cfg.n_layers - 1, "n_heads": cfg.n_heads, "ffn_dim": cfg.ffn_dim, "hidden": sp.fc1.out_features,
                 "criterion": "plainact"}
    provenance = {}
    if pathlib.Path(args.pred).suffix == ".pt":
        st = torch.load(args.pred, weights_only=False)
        provenance = {"steps": st["steps"], "tokens": st["steps"] * 1024, "data": st.get("data", "heldout")}
    if pathlib.Path(args.pred).resolve() != (folder / PRED_FILE).resolve():
        save_predictor(sp, folder / PRED_FILE, pred_meta)
    sp = load_predictor(folder / PRED_FILE, cfg)        # the graphs read the fp16 weights the folder keeps
    W, P = weights_of(lm, tb), predictor_weights(sp)
    layer0 = man.get("selection", {}).get("layer0", "dense")
    graphs = {}
    for kind in ("dense", "sparse"):
        plain_file = folder / man["graphs"][kind]
        m, base = build_shadow(tb.cfg, kind == "sparse", W, P, layer0, int8=True, plain=onnx.load(str(plain_file)))
        assert base.SerializeToString() == plain_file.read_bytes(), f"the rebuilt plain graph is not {plain_file.name}"
        onnx.checker.check_model(m)
        graphs[kind] = f"{kind}.shadow.int8.onnx"
        onnx.save(m, str(folder / graphs[kind]))
        print(f"{graphs[kind]}: {(folder / graphs[kind]).stat().st_size:,} bytes ({plain_file.name}: {plain_file.stat().st_size:,})")
    check(folder, cfg, man["graphs"], graphs)
    lm_params = man["params"]["lm"]
    shadow = {
        "graphs": graphs,
        "layers": list(range(1, cfg.n_layers)),
        "criterion": "plainact",
        "predictorParams": n_params(sp),
        "predictorShare": n_params(sp) / lm_params,
        "predictorHidden": sp.fc1.out_features,
        "weights": {"file": PRED_FILE, "sha256": sha(folder / PRED_FILE)},
        "training": {**(man.get("shadow", {}).get("training", {})), **provenance, "loss": "RankNet (all head pairs, 256 neuron pairs)",
                     "command": "python3 training/pipeline/train_shadow.py --data corpus --only shadow "
                                "--out training/work/shadow/pred-corpus --minutes 15 --threads 2"},
    }
    if args.bpb:
        shadow["bpb"] = bpb_summary([json.loads(pathlib.Path(f).read_text()) for f in args.bpb])
    elif "bpb" in man.get("shadow", {}):
        shadow["bpb"] = man["shadow"]["bpb"]
    assert all(sha(folder / n) == h for n, h in before.items()), "a plain file changed"
    text = patch_manifest((folder / "manifest.json").read_text(), {g: sha(folder / g) for g in graphs.values()}, shadow)
    assert {k: v for k, v in json.loads(text).items() if k not in ("shadow", "files")} == \
        {k: v for k, v in man.items() if k not in ("shadow", "files")}
    (folder / "manifest.json").write_text(text)
    print(json.dumps(shadow, indent=1))


def bpb_summary(results: list[dict]) -> dict:
    """{data: {"windows", "bytes", "off", settings: {name: {headKeep, ffnKeep, bpb, lossPct}}}} from shadow_engine.py's results
    (the reference masks; the ONNX graphs' check on the first windows in bench/shadowllm.md)."""
    out = {}
    for r in results:
        out[r["data"]] = {"windows": r["windows"], "tokensPerWindow": 1024, "bytes": r["bytes"], "off": round(r["bpb"]["off"], 5),
                          "settings": {k: {"headKeep": r["keeps"][k]["head_keep"], "ffnKeep": r["keeps"][k]["ffn_keep"],
                                           "bpb": round(v, 5), "lossPct": round(r["loss_vs_off_pct"][k], 3)}
                                       for k, v in r["bpb"].items() if k != "off"}}
    return out


def patch_manifest(text: str, files: dict, shadow: dict) -> str:
    """The manifest's text with `files` entries added (or their hashes replaced) and the `shadow` key (last) written
    anew; every other byte stays as it is."""
    import re
    if '\n  "shadow": ' in text:
        text = text[:text.index(',\n  "shadow": ')] + "\n}\n"
    start = text.index('\n  "files": {')
    end = text.index("\n  }", start)
    block = text[start:end]
    for name, h in files.items():
        line = f'"{name}": "{h}"'
        if f'"{name}": ' in block:
            block = re.sub(f'"{re.escape(name)}": "[0-9a-f]*"', line, block)
        else:
            block += f",\n    {line}"
    text = text[:start] + block + text[end:]
    body = json.dumps({"shadow": shadow}, indent=2)[1:-2]     # '\n  "shadow": {...}'
    return text.rstrip()[:-1].rstrip() + "," + body + "\n}\n"


def check(folder: pathlib.Path, cfg, plain: dict, shadow: dict):
    """keep = all and a prefill chunk: the same logits as the plain graphs; fewer: a different step of the asked size."""
    ids = np.random.default_rng(0).integers(5, cfg.vocab_size, 200).tolist()
    keeps = lambda kn, kh: {"ffn_keep": np.array([kn], np.int64), "head_keep": np.array([kh], np.int64)}
    for sparse in (False, True):
        a, b = GraphRunner(folder, 256, cfg, plain), GraphRunner(folder, 256, cfg, shadow)
        assert np.array_equal(a.run(ids[:180])["logits"], b.run(ids[:180], extra=keeps(8, 1))["logits"])
        for t in ids[180:190]:
            assert np.array_equal(a.run([t], sparse=sparse, budget=32)["logits"],
                                  b.run([t], sparse=sparse, budget=32, extra=keeps(cfg.ffn_dim, cfg.n_heads))["logits"])
        o = b.run([ids[190]], sparse=sparse, budget=32, extra=keeps(cfg.ffn_dim // 2, cfg.n_heads - 1))
        assert (o["shadow_kept"] == [cfg.n_heads - 1, cfg.ffn_dim // 2]).all()
    print("keep = all and prefill: the plain graphs' logits exactly (dense and sparse)")


if __name__ == "__main__":
    main()
