"""The ONNX graph builder's primitives: the node writer, norms and linears, and the tensors every layer shares."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17


class G:
    """A tiny graph builder: every op returns its output name."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], {}, 0
        self.scope = "model"  # node names "<scope>/<op>_<n>": the bench sums profiled time per scope

    def op(self, op_type, *inputs, n_out=1, **attrs):
        self.n += 1
        outs = [f"{op_type.lower()}_{self.n}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=f"{self.scope}/{op_type}_{self.n}", **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=np.int64):
        name = f"c_{len(self.inits)}_{self.n}"
        self.inits[name] = np.asarray(value, dtype=dtype)
        return name

    def rename(self, src, dst):
        self.nodes.append(helper.make_node("Identity", [src], [dst]))
        return dst


def rms(g: G, x, w, eps):
    var = g.op("ReduceMean", g.op("Mul", x, x), axes=[-1], keepdims=1)
    return g.op("Mul", g.op("Mul", x, g.op("Reciprocal", g.op("Sqrt", g.op("Add", var, g.const(eps, np.float32))))), w)


def linear(g: G, x, w):  # x [..., in] ; w [in, out] (stored transposed)
    return g.op("MatMul", x, w)


def sq(g: G, t):
    return g.op("Squeeze", t, g.const([0]))



def heads(g: G, t, n, D):  # [S, n*D] -> [n, S, D]
    return g.op("Transpose", g.op("Reshape", t, g.const([-1, n, D])), perm=[1, 0, 2])


@dataclass
class Shared:
    """What every layer reads: the chunk's ids and sizes, RoPE, masks, and (sparse) the slot ranges
    that are always read; `outs` and the pointer heads' rows collect as the layers are built."""
    ids: str
    S: str
    C: str
    pos: str
    rope: object          # rope(t) on [..., S, D]
    imp_rope: object      # imp_rope(keys, layer): the importance keys' rotation, if any
    imp_rope_q: object    # imp_rope_q(queries, consumer layers)
    past_mask: str
    causal: str
    scale: str
    outs: list
    sink_rows: str | None = None
    recent_rows: str | None = None
    n_sink: str | None = None
    w0: str | None = None
    k_mid: str | None = None
    head_base: str | None = None
    logd: str | None = None
    copy_rows: dict = field(default_factory=dict)  # pointer head -> its last position's attention [n]
    copy_src: dict = field(default_factory=dict)   # pointer head -> the token ids it read [n]
    marks: dict | None = None  # when asked: tensor names the ShadowLLM variant's surgery needs (shadow_export.py)

    def mark(self, key, name):
        if self.marks is not None:
            self.marks[key] = name
        return name


def assemble(g: G, W: dict[str, np.ndarray], name: str, ins: list, outs: list) -> onnx.ModelProto:
    def inputs_of(nodes):  # including the If branches' nodes
        for n in nodes:
            yield from n.input
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    yield from inputs_of(a.g.node)
    used = set(inputs_of(g.nodes))
    weights = [numpy_helper.from_array(W[k], k) for k in W if k in used]
    consts = [numpy_helper.from_array(v, k) for k, v in g.inits.items()]
    graph = helper.make_graph(g.nodes, name, ins, outs, initializer=weights + consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tokenbutler-export")
    model.ir_version = 8
    return model
