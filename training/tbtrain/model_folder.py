"""Writes a model folder (docs/graph-contract.md): both graphs over one shared external-data file
(weights.bin, so the two graphs cost one copy of the weights on disk), optional int8 copies measured
against fp32, the tokenizer, the fp16 training weights, and manifest.json with config and hashes."""
from __future__ import annotations

import hashlib
import json
import pathlib
import shutil

import numpy as np
import onnx
from onnx import TensorProto
from onnx.external_data_helper import set_external_data

from tbtrain.checkpoints import save_fp16
from tbtrain.graph import build, weights_of
from tbtrain.model import LM, Config
from tbtrain.predictor import Predictor, ensure_calibrated
from tbtrain.selection import ENGINE_RECENT, ENGINE_SINKS


def write_weights(W: dict[str, np.ndarray], path: pathlib.Path) -> dict[str, tuple[int, int]]:
    layout, off = {}, 0
    with open(path, "wb") as f:
        for k in sorted(W):
            pad = (-off) % 64
            f.write(b"\0" * pad); off += pad
            b = W[k].tobytes(); f.write(b)
            layout[k] = (off, len(b)); off += len(b)
    return layout


def save_with_external(model: onnx.ModelProto, layout, path: pathlib.Path, weights_file="weights.bin"):
    for t in model.graph.initializer:
        if t.name in layout:
            off, n = layout[t.name]
            set_external_data(t, location=weights_file, offset=off, length=n)
            t.data_location = TensorProto.EXTERNAL
            t.ClearField("raw_data")
    onnx.save_model(model, str(path))


def sha256(p: pathlib.Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def export(lm: LM, pred: Predictor, out: pathlib.Path, tokenizer: pathlib.Path, extra: dict | None = None,
           int8: bool = False, keep_fp32: bool = True, measure_windows: list | None = None, tbytes=None, layer0: str = "dense"):
    """Writes the model folder. int8: the manifest's graphs are the int8 ones (measured against
    fp32 on `measure_windows` when given); keep_fp32=False then drops the fp32 files."""
    out.mkdir(parents=True, exist_ok=True)
    ensure_calibrated(lm, pred)  # the int8 importance keys' steps (kept in the folder's fp16 weights)
    cfg = pred.cfg  # the LM's config with the predictor's layout (taps, width, distance prior)
    W = weights_of(lm, pred)
    layout = write_weights(W, out / "weights.bin")
    for name, sparse in (("dense", False), ("sparse", True)):
        m = build(cfg, sparse, W, layer0=layer0)
        if not is_large(W):  # a protobuf over 2 GB cannot be checked in memory: checked from its file below
            onnx.checker.check_model(m)  # before externalising (the checker wants the data files beside it)
        save_with_external(m, layout, out / f"{name}.onnx")
        if is_large(W):
            onnx.checker.check_model(str(out / f"{name}.onnx"))
        del m
    graphs = {"dense": "dense.onnx", "sparse": "sparse.onnx"}
    precision = {"default": "fp32"}
    if int8:
        graphs = quantize_int8(cfg, W, out, layer0)
        precision["default"] = "int8"
        if measure_windows and cfg.kv_cache == "f32":  # (the compact cache's quality and speed: bench/kv-cache.md)
            precision.update(measure_variants(out, cfg, measure_windows, tbytes))
        if not keep_fp32:
            for f in ("dense.onnx", "sparse.onnx", "weights.bin"):
                (out / f).unlink()
    if tokenizer.resolve() != (out / "tokenizer.json").resolve():
        shutil.copy(tokenizer, out / "tokenizer.json")
    save_fp16(lm, pred, out / "lm.fp16.safetensors")
    names = sorted(
        set(graphs.values()) | {"tokenizer.json"} | ({"dense.onnx", "sparse.onnx", "weights.bin"} if keep_fp32 or not int8 else set())
    )
    files = {n: sha256(out / n) for n in names}
    manifest = {
        "format": 1,
        "name": (extra or {}).get("name", "tokenbutler-code-default"),
        "config": cfg.to_dict(),
        "graphs": graphs,
        "tokenizer": "tokenizer.json",
        "precision": precision,
        "specialTokens": {"eot": 0, "fimPrefix": 1, "fimMiddle": 2, "fimSuffix": 3, "fileSep": 4},
        "selection": {"sinks": ENGINE_SINKS, "recent": ENGINE_RECENT, "layer0": layer0},
        "params": {"lm": lm.num_params(), "predictor": pred.num_params(),
                   "predictorShare": pred.num_params() / lm.num_params()},
        "files": files,  # what the engine loads and checks (and the VSIX ships)
        "trainingWeights": {"file": "lm.fp16.safetensors", "sha256": sha256(out / "lm.fp16.safetensors")},
    }
    manifest.update(extra or {})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def is_large(W: dict[str, np.ndarray]) -> bool:
    """Weights too big for one in-memory protobuf (2 GB) with the int8 graphs' extra head copy."""
    return sum(v.nbytes for v in W.values()) > 1_500_000_000


def quantize_int8(cfg: Config, W: dict[str, np.ndarray], out: pathlib.Path, layer0: str = "dense") -> dict[str, str]:
    """Dynamic int8 (per-channel weights, activations quantized at run time) copies of both
    graphs, self-contained; the embedding Gather stays fp32."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic
    if "lm_head.weight_t" not in W:  # tied: the head's own copy of the embedding (untied: weights_of wrote it)
        W = dict(W, **{"lm_head.weight_t": np.ascontiguousarray(W["model.embed_tokens.weight"].T)})
    names = {}
    for name, sparse in (("dense", False), ("sparse", True)):
        with tempfile.TemporaryDirectory() as tmp:
            src = pathlib.Path(tmp) / f"{name}.onnx"
            g = build(cfg, sparse, W, separate_head=True, layer0=layer0)
            # over protobuf's 2 GB (imported checkpoints of ~0.5B parameters and up): the fp32 source keeps its
            # weights in a side file; the int8 result is a quarter of that and stays self-contained
            onnx.save_model(g, str(src), save_as_external_data=is_large(W), all_tensors_to_one_file=True, location=f"{name}.data")
            keep = [n.name for n in g.graph.node if n.name.startswith("pointer/")]  # the pointer gate stays fp32
            del g
            quantize_dynamic(str(src), str(out / f"{name}.int8.onnx"), per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=["MatMul"], nodes_to_exclude=keep, extra_options={"MatMulConstBOnly": True})
        q = onnx.load(str(out / f"{name}.int8.onnx"))
        del q.graph.value_info[:]  # the quantizer's shape guesses are not always right
        onnx.save_model(q, str(out / f"{name}.int8.onnx"))
        names[name] = f"{name}.int8.onnx"
    return names


def measure_variants(out: pathlib.Path, cfg: Config, windows: list, tbytes: np.ndarray, contexts=(512, 4096)) -> dict:
    """bits/byte of held-out windows (chunked dense prefill, every position scored) and decode
    ms/token at a few context lengths, for fp32 and int8, interleaved in one run."""
    import time

    import onnxruntime as ort

    def session(p):
        o = ort.SessionOptions(); o.intra_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(p), o)

    variants = {"fp32": session(out / "dense.onnx"), "int8": session(out / "dense.int8.onnx")}
    L, Hkv, D = cfg.n_layers, cfg.n_kv_heads, cfg.head_dim
    res = {}
    for name, s in variants.items():
        nats = nbytes = 0.0
        for prev, row in windows:
            ids = row.tolist(); cap = len(ids)
            k = [np.zeros((Hkv, cap, D), np.float32) for _ in range(L)]; v = [np.zeros_like(k[0]) for _ in range(L)]
            # score every position: one-token decode steps (the dense graph returns only the last logits)
            P = 0; prev_id = prev
            ctx_ids = {"ctx_ids": np.array(ids, np.int64)} if cfg.copy_heads else {}  # slots >= P are ignored
            for t in range(len(ids) - 1):
                feeds = {
                    "input_ids": np.array([[ids[t]]], np.int64),
                    "prev_id": np.array([prev_id], np.int64),
                    "start_pos": np.array([P], np.int64),
                    **ctx_ids,
                }
                for l in range(L):
                    feeds[f"past_k.{l}"], feeds[f"past_v.{l}"] = k[l], v[l]
                o = dict(zip([x.name for x in s.get_outputs()], s.run(None, feeds)))
                for l in range(L):
                    k[l][:, P] = o[f"new_k.{l}"][:, 0]; v[l][:, P] = o[f"new_v.{l}"][:, 0]
                lg = o["logits"][0].astype(np.float64)
                nats += np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[ids[t + 1]]
                nbytes += tbytes[ids[t + 1]]; P += 1; prev_id = ids[t]
        res[f"bpb_{name}"] = float(nats / np.log(2) / nbytes)
    for T in contexts:
        times = {n: [] for n in variants}
        k = [np.random.randn(Hkv, T + 8, D).astype(np.float32) for _ in range(L)]
        for _ in range(5):
            for n, s in variants.items():
                feeds = {"input_ids": np.array([[7]], np.int64), "prev_id": np.array([5], np.int64), "start_pos": np.array([T], np.int64)}
                if cfg.copy_heads:
                    feeds["ctx_ids"] = np.full(T + 8, 9, np.int64)
                for l in range(L):
                    feeds[f"past_k.{l}"] = feeds[f"past_v.{l}"] = k[l]
                t0 = time.perf_counter(); s.run(["logits"], feeds); times[n].append((time.perf_counter() - t0) * 1000)
        for n in variants:
            res[f"decode_ms_{n}@{T}"] = float(np.median(times[n]))
    return res


def take_weights(new: onnx.ModelProto, old: onnx.ModelProto) -> int:
    """new's initializers named like one of old's (every weight; not the builder's numbered constants c_*) take old's value."""
    olds = {i.name: i for i in old.graph.initializer}
    n = 0
    for t in new.graph.initializer:
        if t.name.startswith("c_"):
            continue
        assert t.name in olds, f"{t.name} is not in the folder's graph"
        o = olds[t.name]
        assert list(o.dims) == list(t.dims) and o.data_type == t.data_type, t.name
        t.CopyFrom(o); n += 1
    return n
