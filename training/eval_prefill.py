"""Quality of sparse chunk prefill (the sparse graph run on S > 1 tokens) against dense prefill,
through the exported ONNX graphs (the code the engine runs).

For each held-out multi-file window: dense-prefill `ctx` tokens, then prefill the next `tail`
tokens (the part an edit above the cursor invalidates) either densely or sparsely (chunks of
`chunk`, budget B, the chunk's mean importance query), then teacher-force `follow` tokens with
dense decode steps and compare their loss and top-1 predictions. Writes bench/prefill-quality.{json,md}.

python training/eval_prefill.py --model /tmp/exp-fp32 --ctx 12288 --tail 256 --windows 4
"""
from __future__ import annotations

import argparse, json, pathlib, time

import numpy as np
import onnxruntime as ort

from data import Sampler
from export import fresh_selection_feeds
from model import Config

HERE = pathlib.Path(__file__).parent


class Runner:
    def __init__(self, model_dir: pathlib.Path, cap: int):
        man = json.loads((model_dir / "manifest.json").read_text())
        self.cfg = c = Config(**man["config"])
        self.L, self.H, self.D, self.E = c.n_layers, c.n_kv_heads, c.head_dim, c.imp_dim
        o = ort.SessionOptions(); o.intra_op_num_threads = 1
        o.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.dense = ort.InferenceSession(str(model_dir / man["graphs"]["dense"]), o)
        self.sparse = ort.InferenceSession(str(model_dir / man["graphs"]["sparse"]), o)
        self.cap = cap
        self.k = [np.zeros((self.H, cap, self.D), np.float32) for _ in range(self.L)]
        self.v = [np.zeros((self.H, cap, self.D), np.float32) for _ in range(self.L)]
        self.ik = [np.zeros((self.H, self.E, cap), np.int8) for _ in range(self.L)]  # int8 importance keys, transposed
        self.iksum = [np.zeros((self.H, cap), np.int32) for _ in range(self.L)]  # 64 x their dim sums
        self.ids: list[int] = []

    def snapshot(self):
        return tuple([a.copy() for a in arrs] for arrs in (self.k, self.v, self.ik, self.iksum)) + (list(self.ids),)

    def restore(self, snap):
        self.k, self.v, self.ik, self.iksum = ([a.copy() for a in arrs] for arrs in snap[:4])
        self.ids = list(snap[4])

    def run(self, ids: list[int], sparse: bool = False, budget: int = 512, sinks: int = 8, recent: int = 128):
        P = len(self.ids)
        feeds = {"input_ids": np.array([ids], np.int64), "prev_id": np.array([self.ids[-1] if P else 0], np.int64),
                 "start_pos": np.array([P], np.int64)}
        if self.cfg.copy_heads:
            feeds["ctx_ids"] = np.array(self.ids + [0] * (self.cap - P), np.int64)
        for l in range(self.L):
            feeds[f"past_k.{l}"], feeds[f"past_v.{l}"] = self.k[l], self.v[l]
        if sparse:
            for l in range(1, self.L):
                feeds[f"past_ik_t.{l}"] = self.ik[l]
                feeds[f"past_iksum.{l}"] = self.iksum[l]
            feeds.update(budget=np.array([budget], np.int64), sinks=np.array([sinks], np.int64), recent=np.array([recent], np.int64))
            feeds.update(fresh_selection_feeds(self.cfg))
        s = self.sparse if sparse else self.dense
        names = [o.name for o in s.get_outputs()]
        out = dict(zip(names, s.run(None, feeds)))
        S = len(ids)
        for l in range(self.L):
            self.k[l][:, P:P + S] = out[f"new_k.{l}"]; self.v[l][:, P:P + S] = out[f"new_v.{l}"]
            if l:
                self.ik[l][:, :, P:P + S] = out[f"new_ik.{l}"].transpose(0, 2, 1)
                self.iksum[l][:, P:P + S] = out[f"new_iksum.{l}"]
        self.ids += ids
        return out["logits"][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(HERE.parent / "models/default"))
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--ctx", type=int, default=12288)
    ap.add_argument("--tail", type=int, default=256)
    ap.add_argument("--follow", type=int, default=32)
    ap.add_argument("--chunk", type=int, default=128)
    ap.add_argument("--budgets", default="512,1024,2048")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--out", default=None)
    ap.add_argument("--name", default="prefill-quality", help="output file stem in --out")
    a = ap.parse_args()
    budgets = [int(b) for b in a.budgets.split(",")]
    n = a.ctx + a.tail + a.follow
    smp = Sampler(pathlib.Path(a.work) / "tokens", "valid", n, fim_rate=0.0, seed=99)
    r = Runner(pathlib.Path(a.model), n + 8)
    res = {"dense": {"nats": [], "top1": []}}
    for b in budgets:
        res[f"sparse@{b}"] = {"nats": [], "top1": [], "ms": []}
    res["dense"]["ms"] = []
    for w in range(a.windows):
        _, row = smp.sample()
        ids = row.tolist()
        r.ids = []
        for at in range(0, a.ctx, 256):
            r.run(ids[at:min(a.ctx, at + 256)])
        base = r.snapshot()
        ref_pred = None
        for name in ["dense"] + [f"sparse@{b}" for b in budgets]:
            r.restore(base)
            t0 = time.perf_counter()
            for at in range(a.ctx, a.ctx + a.tail, a.chunk):
                part = ids[at:min(a.ctx + a.tail, at + a.chunk)]
                if name == "dense":
                    r.run(part)
                else:
                    r.run(part, sparse=True, budget=int(name.split("@")[1]))
            res[name]["ms"].append((time.perf_counter() - t0) * 1000)
            nats, preds = 0.0, []
            for t in range(a.ctx + a.tail, n):
                lg = r.run([ids[t]])  # token t at position t; the logits predict token t+1
                if t + 1 < len(ids):
                    lg = lg.astype(np.float64)
                    nats += float(np.log(np.exp(lg - lg.max()).sum()) + lg.max() - lg[ids[t + 1]])
                    preds.append(int(lg.argmax()))
            if ref_pred is None:
                ref_pred = preds
            res[name]["nats"].append(nats / max(1, len(preds)))
            res[name]["top1"].append(float(np.mean([p == q for p, q in zip(preds, ref_pred)])))
        print(w, {k: round(v["nats"][-1], 4) for k, v in res.items()}, flush=True)
    summary = {k: {"nats": float(np.mean(v["nats"])), "top1_agree": float(np.mean(v["top1"])), "tail_ms": float(np.median(v["ms"]))}
               for k, v in res.items()}
    summary["setup"] = vars(a)
    print(json.dumps(summary, indent=1))
    if a.out:
        out = pathlib.Path(a.out)
        (out / f"{a.name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        lines = [f"# Sparse chunk prefill vs dense prefill ({a.tail} tokens after {a.ctx})", "",
                 f"`python3 training/eval_prefill.py --ctx {a.ctx} --tail {a.tail} --windows {a.windows} --budgets {a.budgets}`, model `{a.model}`: {a.windows} held-out windows; "
                 f"dense prefill of {a.ctx} tokens, then the next {a.tail} tokens prefilled densely or with the sparse graph in chunks of {a.chunk} "
                 f"(sinks 8, recent 128, budget B, the chunk's mean importance query); then {a.follow} tokens teacher-forced with dense decode.", "",
                 "| tail prefill | loss on the following tokens (nats) | top-1 agreement with dense | tail prefill ms (fp32, python) |", "|---|---|---|---|"]
        for k, v in summary.items():
            if k != "setup":
                lines.append(f"| {k} | {v['nats']:.4f} | {v['top1_agree']:.3f} | {v['tail_ms']:.0f} |")
        (out / f"{a.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
