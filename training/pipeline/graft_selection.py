"""Puts the current graph builder's fresh-selection branches (tbtrain/graph_select.py) into a model
folder's sparse int8 graph, keeping the graph's own weights: for models/default, whose graphs were
exported from an fp32 checkpoint that is not in the repository (a full re-export from the fp16
training weights would change the weights). The rest of the graph is untouched; the result must give
the folder's graph's outputs on random caches (chunks, reuse, short and long contexts): the same
selected slots per row (their order is free), every other output bit for bit or, where attention
summed the same rows in another order, within rounding; otherwise nothing is written. Updates the
manifest's sha256.

python3 training/pipeline/graft_selection.py --model models/default
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
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # training/: the tbtrain library
from tbtrain.checkpoints import lm_from_folder, predictor_from_folder
from tbtrain.graph import weights_of
from tbtrain.model_folder import quantize_int8


def built_sparse(folder: pathlib.Path, tmp: pathlib.Path, layer0: str) -> onnx.ModelProto:
    """The folder's sparse int8 graph as the current builder writes it (from the fp16 weights)."""
    lm = lm_from_folder(folder).eval()
    pred = predictor_from_folder(folder, lm)
    quantize_int8(lm.cfg, weights_of(lm, pred), tmp, layer0)
    return onnx.load(str(tmp / "sparse.int8.onnx"))


def refs(g: onnx.GraphProto, acc: set) -> set:
    for n in g.node:
        acc.update(n.input)
        for a in n.attribute:
            if a.g.node:
                refs(a.g, acc)
    acc.update(o.name for o in g.output)
    return acc


def graft(old: onnx.ModelProto, new: onnx.ModelProto) -> onnx.ModelProto:
    """old with each If node's else branch (fresh selection) replaced by new's; the branch's own
    constants are copied under fresh names, its nested branches (neighbour fetch) renamed alike;
    names it reads from the outer graph must exist in old, or be inputs of new (added to old's)."""
    out = onnx.ModelProto(); out.CopyFrom(old)
    names = {i.name for i in out.graph.input} | {i.name for i in out.graph.initializer} | {o for n in out.graph.node for o in n.output}
    old_init = {i.name: i for i in out.graph.initializer}
    new_init = {i.name: i for i in new.graph.initializer}
    new_inputs = {i.name: i for i in new.graph.input}
    ifs = lambda m: [n for n in m.graph.node if n.op_type == "If"]
    assert len(ifs(out)) == len(ifs(new)) > 0
    added = []
    fresh_name = {}  # new's constant -> its name in out: "graft_" + its name, prefixed again while old holds that name (an earlier graft)

    def const(x):
        if x not in fresh_name:
            name = "graft_" + x
            while name in old_init or name in names:
                name = "graft_" + name
            t = onnx.TensorProto(); t.CopyFrom(new_init[x]); t.name = name
            added.append(t)
            fresh_name[x] = name
        return fresh_name[x]

    def produced(g: onnx.GraphProto) -> set:  # every name a node of g or of its nested branches writes
        acc = set()
        for n in g.node:
            acc.update(n.output)
            for a in n.attribute:
                if a.g.node:
                    acc |= produced(a.g)
        return acc

    def rename(g: onnx.GraphProto, inner: set, local):
        for n in g.node:
            n.name = n.name.replace("/", "/graft_", 1)
            for i, x in enumerate(n.input):
                if x in inner:
                    n.input[i] = local(x)
                elif x.startswith("c_") and x in new_init and not (x in old_init and np.array_equal(
                        numpy_helper.to_array(old_init[x]), numpy_helper.to_array(new_init[x]))):
                    n.input[i] = const(x)
                elif x and x not in names and x in new_inputs:
                    out.graph.input.append(new_inputs[x])
                    names.add(x)
                else:
                    assert x == "" or x in names, f"the new branch reads {x}, which the folder's graph lacks"
            for i, x in enumerate(n.output):
                n.output[i] = local(x)
            for a in n.attribute:
                if a.g.node:
                    rename(a.g, inner, local)
                    for o in a.g.output:
                        o.name = local(o.name)

    for oi, ni in zip(ifs(out), ifs(new)):
        oel = next(a for a in oi.attribute if a.name == "else_branch").g
        br = onnx.GraphProto(); br.CopyFrom(next(a for a in ni.attribute if a.name == "else_branch").g)
        assert oel.name == br.name, (oel.name, br.name)
        res, keep_name = br.output[0].name, oel.output[0].name
        rename(br, produced(br), lambda x, res=res, keep_name=keep_name: keep_name if x == res else "graft_" + x)
        br.output[0].name = oel.output[0].name
        oel.CopyFrom(br)
    out.graph.initializer.extend(added)
    used = refs(out.graph, set())
    keep = [i for i in out.graph.initializer if i.name in used]
    del out.graph.initializer[:]
    out.graph.initializer.extend(keep)
    return out


def same_output(name: str, a: dict, b: dict) -> bool:
    """One output of the two graphs: the selected slots as a set per row (their order is free) with
    each slot's weight; every other output bit for bit, or, where attention summed the same rows in
    another order, within float rounding (float outputs) or one integer step (the new cache rows)."""
    x, y = a[name], b[name]
    if name.startswith(("selected.", "selected_w.")):
        idx = name.split(".", 1)[1]
        ia, ib = np.argsort(a[f"selected.{idx}"], 1), np.argsort(b[f"selected.{idx}"], 1)
        x, y = np.take_along_axis(x, ia, 1), np.take_along_axis(y, ib, 1)
        return np.array_equal(x, y) if name.startswith("selected.") else np.allclose(x, y, rtol=1e-4, atol=1e-6)
    if np.array_equal(x, y):
        return True
    if x.dtype.kind == "f":
        return np.allclose(x, y, rtol=1e-4, atol=1e-5)
    return x.shape == y.shape and np.abs(x.astype(np.int64) - y.astype(np.int64)).max() <= 1


def same_outputs(a: str, b: str, cfg: dict) -> bool:
    """Both graphs on random caches: fresh decode steps short and long, a prefill chunk, a reuse step
    (b with neighbour fetch off, when it has the input; with it on, b selects as many slots, each once)."""
    H, D, E, L = cfg["n_kv_heads"], cfg["head_dim"], cfg["imp_dim"], cfg["n_layers"]
    rng = np.random.default_rng(0)
    sa, sb = ort.InferenceSession(a), ort.InferenceSession(b)
    names = [o.name for o in sa.get_outputs()]
    cases = ((20, 1, 4, False), (300, 1, 64, False), (1000, 1, 2000, False), (5000, 1, 512, True),  # (P, S, budget, reuse)
             (8192, 128, 2048, False), (32768, 1, 512, False))
    for P, S, budget, reuse in cases:
        cap = P + 200
        i64 = lambda *v: np.array(v, np.int64)
        f = {"input_ids": rng.integers(5, cfg["vocab_size"], (1, S)), "prev_id": i64(9), "start_pos": i64(P), "budget": i64(budget),
             "ctx_ids": rng.integers(5, cfg["vocab_size"], cap), "sinks": i64(8), "recent": i64(128),
             "reuse_selection": np.array([False]), "prev_selected": np.zeros(((L - 1) * H, 0), np.int64), "neighbors": np.array([False])}
        types = {i.name: i.type for i in sa.get_inputs()}
        for l in range(L):  # the float32 cache, or the compact one (u8 K, s8 V, f32 row steps)
            f[f"past_k.{l}"] = (rng.integers(0, 256, (H, cap, D)).astype(np.uint8) if "uint8" in types[f"past_k.{l}"]
                                else rng.standard_normal((H, cap, D)).astype(np.float32))
            f[f"past_v.{l}"] = (rng.integers(-127, 128, (H, cap, D)).astype(np.int8) if "int8" in types[f"past_v.{l}"]
                                else rng.standard_normal((H, cap, D)).astype(np.float32))
            f[f"past_ks.{l}"] = rng.uniform(0.005, 0.02, (H, cap)).astype(np.float32)
            f[f"past_vs.{l}"] = rng.uniform(0.005, 0.02, (H, cap)).astype(np.float32)
            if l:
                ik = rng.integers(-63, 64, (H, E, cap)).astype(np.int8)
                f[f"past_ik_t.{l}"], f[f"past_iksum.{l}"] = ik, (64 * ik.astype(np.int32).sum(1)).astype(np.int32)
        f = {k: v for k, v in f.items() if k in {i.name for i in sa.get_inputs()}}
        if reuse:
            first = dict(zip(names, sa.run(None, f)))
            f["reuse_selection"] = np.array([True])
            f["prev_selected"] = np.concatenate([first[f"selected.{l}"] for l in range(1, L)], 0)
        fb = dict(f, **({"neighbors": np.array([False])} if "neighbors" in {i.name for i in sb.get_inputs()} else {}))
        oa, ob = sa.run(None, f), sb.run(None, fb)
        bad = [n for n in names if not same_output(n, dict(zip(names, oa)), dict(zip(names, ob)))]
        if bad:
            print(f"outputs differ at P={P} S={S} budget={budget} reuse={reuse}: {', '.join(bad)}")
            return False
        if "neighbors" in fb and S == 1 and not reuse and budget < P:  # neighbour fetch: as many slots, each once
            on = dict(zip(names, sb.run(None, dict(fb, neighbors=np.array([True])))))
            for l in range(1, L):
                a, b = on[f"selected.{l}"], dict(zip(names, ob))[f"selected.{l}"]
                if a.shape != b.shape or not (np.diff(np.sort(a, axis=1), axis=1) > 0).all():
                    print(f"neighbour fetch selection malformed at P={P} layer {l}")
                    return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/default")
    args = ap.parse_args()
    folder = pathlib.Path(args.model)
    manifest = json.loads((folder / "manifest.json").read_text())
    name = manifest["graphs"]["sparse"]
    with tempfile.TemporaryDirectory() as tmp:
        new = built_sparse(folder, pathlib.Path(tmp), manifest.get("selection", {}).get("layer0", "dense"))
        grafted = graft(onnx.load(str(folder / name)), new)
        cand = pathlib.Path(tmp) / "grafted.onnx"
        onnx.save(grafted, str(cand))
        if not same_outputs(str(folder / name), str(cand), manifest["config"]):
            sys.exit("not written: the grafted graph's outputs differ from the folder's")
        (folder / name).write_bytes(cand.read_bytes())
    manifest["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"grafted the fresh selection into {folder / name}: same selections and outputs; manifest sha256 updated")


if __name__ == "__main__":
    main()
