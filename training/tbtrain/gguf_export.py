"""A model folder as a GGUF file for llama.cpp (architecture `llama`), from its fp16 training weights.

llama.cpp's `llama` graph is RMSNorm, RoPE, SwiGLU, (G)QA and an output head tied to the embedding:
our LM's trunk exactly. What it cannot express is left out, so the GGUF is the closest plain llama
model, not the same function (GGUF_OMITS lists the pieces; the speed bench's llama.cpp row says so):
the previous-token projection added to each input embedding, the pointer heads' copy gate and the
n-gram lookup, and the TokenButler predictor (llama.cpp attends densely).

Q and K rows are permuted to llama.cpp's rotary layout: it rotates interleaved pairs (2i, 2i+1), our
model (HF style) rotates halves (i, i + head_dim/2) — the same permutation as llama.cpp's own
convert_hf_to_gguf.py. The byte-level BPE is stored as a `gpt2` tokenizer (tokens, merges, specials);
feed token ids to compare with the engine exactly (llama.cpp's pre-tokenizer regex differs slightly).
"""
from __future__ import annotations

import json
import pathlib

import gguf
import numpy as np
from safetensors.numpy import load_file

GGUF_OMITS = ("prev-token projection", "pointer heads + copy gate", "n-gram lookup", "TokenButler predictor")
TYPES = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0}
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}


def to_interleaved(w: np.ndarray, n_heads: int) -> np.ndarray:
    """[n_heads*head_dim, d] rows from the rotate-half layout to llama.cpp's interleaved-pair layout."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def from_interleaved(w: np.ndarray, n_heads: int) -> np.ndarray:
    """The inverse of to_interleaved."""
    return w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama_tensors(sd: dict, cfg: dict) -> dict[str, np.ndarray]:
    """{GGUF tensor name: float32 array in PyTorch [out, in] layout} for the plain llama model."""
    out = {"token_embd.weight": sd["model.embed_tokens.weight"], "output_norm.weight": sd["model.norm.weight"]}
    if "lm_head.weight" in sd and not np.array_equal(sd["lm_head.weight"], sd["model.embed_tokens.weight"]):
        out["output.weight"] = sd["lm_head.weight"]  # untied head (imported checkpoints); ours is tied
    for i in range(cfg["n_layers"]):
        p = f"model.layers.{i}."
        out[f"blk.{i}.attn_norm.weight"] = sd[p + "input_layernorm.weight"]
        out[f"blk.{i}.attn_q.weight"] = to_interleaved(sd[p + "self_attn.q_proj.weight"], cfg["n_heads"])
        out[f"blk.{i}.attn_k.weight"] = to_interleaved(sd[p + "self_attn.k_proj.weight"], cfg["n_kv_heads"])
        out[f"blk.{i}.attn_v.weight"] = sd[p + "self_attn.v_proj.weight"]
        out[f"blk.{i}.attn_output.weight"] = sd[p + "self_attn.o_proj.weight"]
        out[f"blk.{i}.ffn_norm.weight"] = sd[p + "post_attention_layernorm.weight"]
        out[f"blk.{i}.ffn_gate.weight"] = sd[p + "mlp.gate_proj.weight"]
        out[f"blk.{i}.ffn_up.weight"] = sd[p + "mlp.up_proj.weight"]
        out[f"blk.{i}.ffn_down.weight"] = sd[p + "mlp.down_proj.weight"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def tensor_type(name: str, arr: np.ndarray, kind: str) -> gguf.GGMLQuantizationType:
    """Norm weights (1-D) stay f32, as llama.cpp expects; matrices take the file's type."""
    return TYPES["f32"] if arr.ndim == 1 else TYPES[kind]


def add_tokenizer(w: gguf.GGUFWriter, tok: dict, vocab_size: int) -> None:
    vocab = tok["model"]["vocab"]
    tokens = [""] * vocab_size
    for t, i in vocab.items():
        tokens[i] = t
    special = {a["id"] for a in tok.get("added_tokens", []) if a.get("special")}
    for a in tok.get("added_tokens", []):
        tokens[a["id"]] = a["content"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")  # the nearest of llama.cpp's regexes to ours (no contraction rule in ours)
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL for i in range(vocab_size)])
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)


def export_gguf(folder, out, kind: str = "f16") -> pathlib.Path:
    """Writes `out` (a .gguf path) from the model folder's manifest, tokenizer and fp16 training weights."""
    folder = pathlib.Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    cfg = manifest["config"]
    sd = load_file(str(folder / manifest.get("trainingWeights", {}).get("file", "lm.fp16.safetensors")))
    tok = json.loads((folder / manifest["tokenizer"]).read_text())
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out), "llama")
    w.add_name(f"{manifest['name']} (plain llama: without {', '.join(GGUF_OMITS)})")
    w.add_context_length(131072)
    w.add_embedding_length(cfg["d_model"])
    w.add_block_count(cfg["n_layers"])
    w.add_feed_forward_length(cfg["ffn_dim"])
    w.add_head_count(cfg["n_heads"])
    w.add_head_count_kv(cfg["n_kv_heads"])
    w.add_key_length(cfg["head_dim"])
    w.add_value_length(cfg["head_dim"])
    w.add_rope_dimension_count(cfg["head_dim"])
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg["norm_eps"]))
    w.add_vocab_size(cfg["vocab_size"])
    w.add_file_type(FILE_TYPES[kind])
    add_tokenizer(w, tok, cfg["vocab_size"])
    for name, arr in llama_tensors(sd, cfg).items():
        t = tensor_type(name, arr, kind)
        if t == TYPES["f32"]:
            w.add_tensor(name, arr)
        elif t == TYPES["f16"]:
            w.add_tensor(name, arr.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(arr, t), raw_shape=gguf.quant_shape_to_byte_shape(arr.shape, t), raw_dtype=t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out
