"""The engine's ShadowLLM graphs (issue 29 item 3; docs/graph-contract.md, "ShadowLLM variant"):
dense.shadow.int8.onnx / sparse.shadow.int8.onnx are the plain graphs (graph.build, quantized as
model_folder.quantize_int8 does, every weight taken from the folder's graph by name) with

  inputs   ffn_keep, head_keep  int64 [1]: FFN neurons / query heads each masked layer (1..L-1) keeps
  output   shadow_kept          int64 [L-1, 2]: heads and neurons each masked layer computed this run

For a decode step (S == 1) with ffn_keep < ffn_dim or head_keep < n_heads, the ShadowLLM predictor
(shadow_pred.ShadowPredictor, fp32) runs once on the RMS-normalized stream entering layer 1 and its TopK
picks each masked layer's heads and neurons; otherwise (prefill chunks, keep = all) every `If` takes the
plain graph's own nodes, which were moved unchanged into the else branches, so the logits are the plain
graph's.

The surgery works on the built graph, so the plain path is exactly the builder's: graph.build(marks=...)
records the names of the tensors the variant reads; per masked layer two regions of nodes are cut out
(every node downstream of the q_proj weight and upstream of the attention output, the pointer rows and
selected_w; every node downstream of the gate/up weights and upstream of the FFN output) and put in the
else branch of an If whose then branch computes the same outputs for the kept units only:
  FFN    the kept neurons' gate/up columns (weights stored [in, out]) and down_proj rows gathered from the
         plain graph's own int8 initializers (per-column scales and zero points gathered alike), the same
         DynamicQuantizeLinear -> MatMulInteger -> scales products the quantizer writes
  heads  the kept query heads' q_proj columns and o_proj rows gathered the same way; each reads its KV
         head's cache rows (all of them: dense; the selection: sparse); K/V of every KV head are still
         computed (the cache needs them). A dropped pointer head copies nothing and the copy gate is
         renormalized over what was computed (shadow.py); selected_w of a KV head averages over its
         kept query heads' rows (a dropped head counts 0)
fp32 graphs (no `_quantized` initializers) get the same surgery with fp32 gathers (the parity tests)."""
from __future__ import annotations

import pathlib
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tbtrain import graph_kv
from tbtrain.graph import build
from tbtrain.graph_ops import G
from tbtrain.model import Config
from tbtrain.model_folder import take_weights
from tbtrain.shadow_graph import TORCH_RMS_EPS

FIRST_NODE = 10 ** 6  # the surgery's node counter starts here: its names never meet the builder's


def predictor_weights(pred) -> dict[str, np.ndarray]:
    """A ShadowPredictor's weights as the graphs store them (linears [in, out], fp32)."""
    t = lambda x: np.ascontiguousarray(x.detach().float().numpy())
    return {"shadow.fc1": t(pred.fc1.weight).T.copy(), "shadow.fc1_b": t(pred.fc1.bias),
            "shadow.fc2": t(pred.fc2.weight).T.copy(), "shadow.fc2_b": t(pred.fc2.bias)}


def quantized(g: onnx.ModelProto, tmp: pathlib.Path, name: str, W: dict) -> onnx.ModelProto:
    """model_folder.quantize_int8's quantization of one built graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    src, dst = tmp / f"{name}.onnx", tmp / f"{name}.int8.onnx"
    # past protobuf's 2 GB (a 0.5B model's fp32 graph) the weights go to one external-data file beside it
    big = sum(v.nbytes for v in W.values()) > 1_500_000_000
    onnx.save_model(g, str(src), save_as_external_data=big, all_tensors_to_one_file=True, location=f"{name}.weights")
    keep = [n.name for n in g.graph.node if n.name.startswith("pointer/")]
    quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul"], nodes_to_exclude=keep, extra_options={"MatMulConstBOnly": True})
    q = onnx.load(str(dst))
    del q.graph.value_info[:]
    return q


def build_shadow(cfg: Config, sparse: bool, W: dict, P: dict, layer0: str = "dense", int8: bool = True,
                 plain: onnx.ModelProto | None = None) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """(the ShadowLLM variant, the plain graph it was cut from). W: graph.weights_of; P: predictor_weights;
    plain: the folder's plain graph, whose weights the new one takes (its plain path then is that graph's)."""
    marks: dict = {}
    if int8 and "lm_head.weight_t" not in W:
        W = dict(W, **{"lm_head.weight_t": np.ascontiguousarray(W["model.embed_tokens.weight"].T)})
    g = build(cfg, sparse, W, separate_head=int8, layer0=layer0, marks=marks)
    if int8:
        with tempfile.TemporaryDirectory() as tmp:
            g = quantized(g, pathlib.Path(tmp), "sparse" if sparse else "dense", W)
    if plain is not None:
        take_weights(g, plain)
        if g.SerializeToString() != plain.SerializeToString():
            # the folder's graph was written by an older builder (models/default's sparse graph: graft_selection.py):
            # the same nodes in the same order under other names. The surgery then cuts the folder's graph itself.
            a, b = g.graph.node, plain.graph.node
            assert [n.op_type for n in a] == [n.op_type for n in b], "the folder's graph is not the builder's"
            ren = {x: y for n, o in zip(a, b) for x, y in zip(n.output, o.output)}
            marks = {k: (None if v is None else ren.get(v, v)) for k, v in marks.items()}
            g = onnx.ModelProto(); g.CopyFrom(plain)
    base = onnx.ModelProto(); base.CopyFrom(g)
    return add_shadow(g, cfg, marks, P), base


def _subgraph_inputs(n) -> list[str]:
    out = list(n.input)
    for a in n.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            for m in a.g.node:
                out += _subgraph_inputs(m)
    return out


class Surgery:
    def __init__(self, m: onnx.ModelProto, c: Config, marks: dict):
        self.m, self.c, self.mk = m, c, marks
        self.inits = {t.name for t in m.graph.initializer}
        self.int8 = any(n.endswith("_quantized") for n in self.inits)
        self.g = G()
        self.g.n = FIRST_NODE
        self.g.scope = "shadow"

    def region(self, weights: list[str], outputs: list[str]) -> list[int]:
        """Indices of the nodes downstream of any of `weights` (or their quantized forms) and upstream of `outputs`."""
        nodes = list(self.m.graph.node)
        wanted = {w + s for w in weights for s in ("", "_quantized", "_scale", "_zero_point")}
        prod = {o: i for i, n in enumerate(nodes) for o in n.output}
        ins = [_subgraph_inputs(n) for n in nodes]
        cons: dict[str, list[int]] = {}
        for i, names in enumerate(ins):
            for t in names:
                cons.setdefault(t, []).append(i)
        down = {i for i, names in enumerate(ins) if wanted & set(names)}
        todo = list(down)
        while todo:
            for o in nodes[todo.pop()].output:
                for j in cons.get(o, []):
                    if j not in down:
                        down.add(j); todo.append(j)
        up, todo = set(), [prod[o] for o in outputs]
        while todo:
            i = todo.pop()
            if i in up:
                continue
            up.add(i)
            todo += [prod[t] for t in ins[i] if t in prod]
        reg = sorted(down & up)
        inside = set(reg)
        graph_outs = {o.name for o in self.m.graph.output}
        leaving = {o for i in reg for o in nodes[i].output
                   if o in graph_outs or any(j not in inside for j in cons.get(o, []))}
        assert leaving == set(outputs), (leaving, outputs)
        return reg

    def branch(self, fn, dtypes):
        """The nodes fn() writes (it returns its output names) as a graph; its constants go to the main graph."""
        outer, self.g.nodes = self.g.nodes, []
        outs = fn()
        nodes, self.g.nodes = self.g.nodes, outer
        return helper.make_graph(nodes, f"shadow_{self.g.n}", [], [helper.make_tensor_value_info(o, t, None) for o, t in zip(outs, dtypes)])

    def cut(self, reg: list[int], outputs: list[str], cond: str, then_fn):
        """Moves the region's nodes into the else branch of an If on cond (outputs renamed inside), then_fn's nodes
        in the then branch; the If gives the region's output names."""
        nodes = list(self.m.graph.node)
        ren = {o: o + "__plain" for o in outputs}
        moved = []
        for i in reg:
            n = onnx.NodeProto(); n.CopyFrom(nodes[i])
            n.input[:] = [ren.get(t, t) for t in n.input]
            n.output[:] = [ren.get(t, t) for t in n.output]
            moved.append(n)
        else_g = helper.make_graph(moved, f"plain_{self.g.n}", [],
                                   [helper.make_tensor_value_info(ren[o], TensorProto.FLOAT, None) for o in outputs])
        then_g = self.branch(then_fn, [TensorProto.FLOAT] * len(outputs))
        self.g.n += 1
        node = helper.make_node("If", [cond], outputs, name=f"shadow/If_{self.g.n}", then_branch=then_g, else_branch=else_g)
        keep = [n for i, n in enumerate(nodes) if i not in set(reg)]
        del self.m.graph.node[:]
        self.m.graph.node.extend(keep + [node])

    def lin(self, x, w, idx, axis: int, xq=None):
        """x @ W[w] ([in, out]) with only the columns (axis 1) or rows (axis 0) idx of W: the int8 form gathers the
        int8 weight (and, for columns, its per-column scale and zero point) as the quantizer's nodes read them."""
        g = self.g
        cols = lambda t: g.op("Transpose", g.op("Gather", g.op("Transpose", t, perm=[1, 0]), idx, axis=0), perm=[1, 0])
        if not self.int8:
            return g.op("MatMul", x, cols(w) if axis == 1 else g.op("Gather", w, idx, axis=0))
        q, s, z = w + "_quantized", w + "_scale", w + "_zero_point"
        if axis == 1:
            s, z = g.op("Gather", s, idx, axis=0), g.op("Gather", z, idx, axis=0)
        xq, xs, xz = xq or g.op("DynamicQuantizeLinear", x, n_out=3)
        # columns: a Gather along axis 1 copies byte by byte (about 1 ms for 528 of 704 columns of 256); rows of the
        # transposed weight are contiguous (onnxruntime folds that Transpose of an initializer once, at load)
        wk = cols(q) if axis == 1 else g.op("Gather", q, idx, axis=0)
        y = g.op("Cast", g.op("MatMulInteger", xq, wk, xz, z), to=TensorProto.FLOAT)
        return g.op("Mul", y, g.op("Mul", xs, s))


def add_shadow(m: onnx.ModelProto, c: Config, marks: dict, P: dict) -> onnx.ModelProto:
    """The ShadowLLM variant of the built graph m (module doc)."""
    s = Surgery(m, c, marks)
    g, mk = s.g, marks
    L, H, F = c.n_layers, c.n_heads, c.ffn_dim
    i64 = lambda v: g.const(np.asarray(v, np.int64))
    f32 = lambda v: g.const(v, np.float32)
    # the switches: a decode step with fewer heads / neurons than all
    dec = g.op("Equal", mk["S"], i64([1]))
    kh = g.op("Min", g.op("Max", "head_keep", i64([1])), i64([H]))
    kn = g.op("Min", g.op("Max", "ffn_keep", i64([1])), i64([F]))
    head_on = g.op("And", dec, g.op("Less", kh, i64([H])))
    ffn_on = g.op("And", dec, g.op("Less", kn, i64([F])))
    any_on = g.op("Or", head_on, ffn_on)
    kept = g.op("Concat", g.op("Where", head_on, kh, i64([H])), g.op("Where", ffn_on, kn, i64([F])), axis=0)
    g.nodes.append(helper.make_node("Tile", [g.op("Unsqueeze", kept, i64([0])), i64([L - 1, 1])], ["shadow_kept"], name="shadow/kept"))

    def predictor():   # ShadowPredictor on the stream entering layer 1 -> the kept heads [L-1, kh], neurons [L-1, kn]
        x = mk["x.1"]
        var = g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1)
        xn = g.op("Mul", x, g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, f32(TORCH_RMS_EPS)))))
        z = g.op("Add", g.op("MatMul", xn, "shadow.fc1"), "shadow.fc1_b")
        z = g.op("Mul", g.op("Mul", z, f32(0.5)), g.op("Add", g.op("Erf", g.op("Mul", z, f32(1 / np.sqrt(2)))), f32(1.0)))  # exact GELU
        z = g.op("Reshape", g.op("Add", g.op("MatMul", z, "shadow.fc2"), "shadow.fc2_b"), i64([L - 1, H + F]))
        hs, ns = g.op("Split", z, i64([H, F]), axis=1, n_out=2)
        return [g.op("TopK", hs, kh, axis=1, n_out=2)[1], g.op("TopK", ns, kn, axis=1, n_out=2)[1]]

    def nothing():
        e = lambda: g.op("ConstantOfShape", i64([L - 1, 0]), value=helper.make_tensor("v", TensorProto.INT64, [1], [0]))
        return [e(), e()]
    pred_out = ["shadow_heads", "shadow_neurons"]
    g.nodes.append(helper.make_node("If", [any_on], pred_out, name="shadow/predictor",
                                    then_branch=s.branch(predictor, [TensorProto.INT64] * 2),
                                    else_branch=s.branch(nothing, [TensorProto.INT64] * 2)))
    s.m.graph.node.extend(g.nodes); g.nodes = []
    for l in range(1, L):
        p = f"model.layers.{l}."
        ptr = [f for f in c.copy_heads if f // H == l]
        outs = [mk[f"attn_out.{l}"]] + [mk[f"copy.{f}"] for f in ptr] + ([mk[f"selw.{l}"]] if f"selw.{l}" in mk else [])
        reg = s.region([p + "self_attn.q_proj.weight"], outs)
        s.cut(reg, outs, head_on, lambda l=l, p=p, ptr=ptr: _heads(s, c, l, p, ptr, "shadow_heads"))
        reg = s.region([p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"], [mk[f"ffn_out.{l}"]])
        s.cut(reg, [mk[f"ffn_out.{l}"]], ffn_on, lambda l=l, p=p: _neurons(s, l, p, "shadow_neurons"))
    if c.copy_heads and "gate" in mk:
        _renormalize_gate(s, c, head_on, "shadow_heads")
    inits = list(m.graph.initializer) + [numpy_helper.from_array(v, k) for k, v in P.items()]
    inits += [numpy_helper.from_array(v, k) for k, v in g.inits.items()]
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)
    m.graph.input.extend([helper.make_tensor_value_info(n, TensorProto.INT64, [1]) for n in ("ffn_keep", "head_keep")])
    m.graph.output.append(helper.make_tensor_value_info("shadow_kept", TensorProto.INT64, [L - 1, 2]))
    _toposort(m)
    m.graph.name = m.graph.name + "_shadow"
    return m


def _neurons(s: Surgery, l: int, p: str, kept_n: str) -> list[str]:
    g, mk = s.g, s.mk
    idx = g.op("Gather", kept_n, g.const(l - 1), axis=0)                                  # [kn]
    x = mk[f"ffn_in.{l}"]
    xq = g.op("DynamicQuantizeLinear", x, n_out=3) if s.int8 else None                   # shared by gate and up
    gate = s.lin(x, p + "mlp.gate_proj.weight", idx, 1, xq)
    up = s.lin(x, p + "mlp.up_proj.weight", idx, 1, xq)
    h = g.op("Mul", g.op("Mul", gate, g.op("Sigmoid", gate)), up)                       # [1, kn]
    return [s.lin(h, p + "mlp.down_proj.weight", idx, 0)]


def _heads(s: Surgery, c: Config, l: int, p: str, ptr: list[int], kept_h: str) -> list[str]:
    """Attention of the kept query heads only (S = 1): their q columns, their KV heads' rows, their o_proj rows."""
    g, mk = s.g, s.mk
    H, Hkv, D = c.n_heads, c.n_kv_heads, c.head_dim
    rep = H // Hkv
    i64 = lambda v: g.const(np.asarray(v, np.int64))
    hk = g.op("Gather", kept_h, i64(l - 1), axis=0)                                       # [kh]
    cols = g.op("Reshape", g.op("Add", g.op("Mul", g.op("Unsqueeze", hk, i64([1])), i64(D)), i64(np.arange(D))), i64([-1]))  # [kh*D]
    q = s.lin(mk[f"xn.{l}"], p + "self_attn.q_proj.weight", cols, 1)                     # [1, kh*D]
    if c.attn_bias:
        q = g.op("Add", q, g.op("Gather", p + "self_attn.q_proj.bias", cols, axis=0))
    q = g.op("Reshape", q, i64([-1, 1, D]))                                               # [kh, 1, D]
    a, b = g.op("Split", q, i64([D // 2, D // 2]), axis=-1, n_out=2)
    q = g.op("Add", g.op("Mul", q, mk["cos"]), g.op("Mul", g.op("Concat", g.op("Neg", b), a, axis=-1), mk["sin"]))
    qh = g.op("Mul", q, g.const(1.0 / np.sqrt(D), np.float32))
    kvh = g.op("Div", hk, i64(rep)) if rep > 1 else hk                                   # each kept head's KV head
    pick = lambda t: g.op("Gather", t, kvh, axis=0)
    Kp, Vp = pick(mk[f"Kp.{l}"]), pick(mk[f"Vp.{l}"])
    int8 = mk.get(f"Ks.{l}") is not None
    if int8:
        s_past = graph_kv.past_scores(g, qh, Kp, pick(mk[f"Ks.{l}"]))
    else:
        s_past = g.op("MatMul", qh, g.op("Transpose", Kp, perm=[0, 2, 1]))
    if mk.get(f"mask.{l}") is not None:
        s_past = g.op("Add", s_past, mk[f"mask.{l}"])
    s_new = g.op("MatMul", qh, g.op("Transpose", pick(mk[f"k.{l}"]), perm=[0, 2, 1]))   # [kh, 1, 1]
    prob = g.op("Softmax", g.op("Concat", s_past, s_new, axis=-1), axis=-1)
    p_past, p_new = g.op("Split", prob, g.op("Concat", g.op("Shape", s_past, start=2), i64([1]), axis=0), axis=-1, n_out=2)
    o_past = graph_kv.past_values(g, p_past, Vp, pick(mk[f"Vs.{l}"])) if int8 else g.op("MatMul", p_past, Vp)
    o = g.op("Reshape", g.op("Add", o_past, g.op("MatMul", p_new, pick(mk[f"v.{l}"]))), i64([1, -1]))   # [1, kh*D]
    outs = [s.lin(o, p + "self_attn.o_proj.weight", cols, 0)]
    rows = g.op("Reshape", prob, g.op("Concat", g.op("Shape", hk), i64([-1]), axis=0))     # [kh, n + 1]
    for f in ptr:   # a pointer head's row; zeros when it was dropped
        sel = g.op("Unsqueeze", g.op("Cast", g.op("Equal", hk, i64(f % H)), to=TensorProto.FLOAT), i64([0]))
        outs.append(g.op("Reshape", g.op("MatMul", sel, rows), i64([-1])))
    if f"selw.{l}" in mk:   # [Hkv, K]: each KV head's kept query heads' rows, / rep
        onehot = g.op("Cast", g.op("Equal", i64(np.arange(Hkv).reshape(Hkv, 1)), g.op("Unsqueeze", kvh, i64([0]))), to=TensorProto.FLOAT)
        pr = g.op("Reshape", p_past, g.op("Concat", g.op("Shape", hk), i64([-1]), axis=0))
        outs.append(g.op("Div", g.op("MatMul", onehot, pr), g.const(float(rep), np.float32)))
    return outs


def _renormalize_gate(s: Surgery, c: Config, head_on: str, kept_h: str):
    """A dropped pointer head's copy component leaves the mixture, renormalized over the rest (shadow._nll)."""
    g, mk = s.g, s.mk
    gate = mk["gate"]
    H = c.n_heads
    i64 = lambda v: g.const(np.asarray(v, np.int64))

    def then():
        parts = [g.const([1.0], np.float32)]
        for f in c.copy_heads:
            if f // H == 0:   # layer 0 is never masked
                parts.append(g.const([1.0], np.float32)); continue
            hk = g.op("Gather", kept_h, i64(f // H - 1), axis=0)
            parts.append(g.op("ReduceMax", g.op("Cast", g.op("Equal", hk, i64(f % H)), to=TensorProto.FLOAT), keepdims=1))
        if c.ngram_max:
            parts.append(g.const([1.0], np.float32))
        gm = g.op("Mul", gate, g.op("Concat", *parts, axis=0))
        return [g.op("Div", gm, g.op("ReduceSum", gm, i64([-1]), keepdims=1))]
    for n in s.m.graph.node:
        n.input[:] = ["shadow_gate" if t == gate else t for t in n.input]
    s.m.graph.node.append(helper.make_node("If", [head_on], ["shadow_gate"], name="shadow/gate",
                                           then_branch=s.branch(then, [TensorProto.FLOAT]),
                                           else_branch=s.branch(lambda: [g.op("Identity", gate)], [TensorProto.FLOAT])))


def _toposort(m: onnx.ModelProto):
    """Stable topological order of the main graph's nodes (an If after every outer tensor its branches read)."""
    nodes = list(m.graph.node)
    made = {o for n in nodes for o in n.output}
    need = [{t for t in _subgraph_inputs(n) if t in made} for n in nodes]
    done, order, left = set(), [], list(range(len(nodes)))
    while left:
        rest = []
        for i in left:
            if need[i] <= done:
                order.append(nodes[i]); done.update(nodes[i].output)
            else:
                rest.append(i)
        assert len(rest) < len(left), "a cycle"
        left = rest
    del m.graph.node[:]
    m.graph.node.extend(order)


def save_predictor(pred, path: pathlib.Path, meta: dict):
    """The ShadowPredictor's weights, fp16 (the graphs read them back in fp32: predictor_weights(load_predictor(path)))."""
    import json

    from safetensors.torch import save_file
    save_file({k: v.half().contiguous() for k, v in pred.state_dict().items()}, str(path),
              metadata={"shadow": json.dumps(meta)})


def load_predictor(path, cfg: Config):
    """The ShadowPredictor of an LM of config cfg from save_predictor's file (its fp16 weights in fp32) or from
    train_shadow.py's checkpoint (pred.pt)."""
    import torch

    from tbtrain.shadow_pred import ShadowPredictor
    path = pathlib.Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        sd = {k: v.float() for k, v in load_file(str(path)).items()}
    else:
        sd = torch.load(path, weights_only=False)["preds"]["shadow"]
    pred = ShadowPredictor(cfg.d_model, cfg.n_layers - 1, cfg.n_heads, cfg.ffn_dim, sd["fc1.weight"].shape[0])
    pred.load_state_dict(sd)
    return pred.eval().requires_grad_(False)
