"""GGUF files (llama.cpp's format) into the same LM as hf_import.py: architectures `llama` and `qwen2`;
f32, f16, bf16 and q8_0 tensors dequantized to fp32 (the model folder's int8 graphs quantize them again
per channel). llama.cpp stores the `llama` architecture's q/k rows permuted for its own RoPE layout;
they are permuted back into Hugging Face's rotate-half layout. The tokenizer comes from the file's
`tokenizer.ggml.*` metadata when it is a byte-level BPE (`gpt2` model), or from --tokenizer."""
from __future__ import annotations

import pathlib

import numpy as np
import torch

from tbtrain.hf_import import ImportError_, config_from_hf, fim_tokens, lm_from_state_dict
from tbtrain.model import LM

ARCHS = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}
TYPES = ("F32", "F16", "BF16", "Q8_0")
LAYER = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
         "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
         "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
TOP = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
# pre-tokenizer regexes of llama.cpp's `tokenizer.ggml.pre` names (as in the models' own tokenizer.json)
PRE = {
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "llama-bpe": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}


def hf_name(name: str) -> str | None:
    """The Hugging Face tensor name of a GGUF tensor name (None: not a weight of the LM, e.g. rope_freqs)."""
    parts = name.split(".")
    if parts[0] == "blk" and len(parts) == 4 and parts[2] in LAYER:
        return f"model.layers.{parts[1]}.{LAYER[parts[2]]}.{parts[3]}"
    if len(parts) == 2 and parts[0] in TOP:
        return f"{TOP[parts[0]]}.{parts[1]}"
    return None


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of llama.cpp's convert_hf_to_gguf permute of q/k rows (HF rotate-half -> interleaved pairs)."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def tensor_array(t) -> np.ndarray:
    from gguf.quants import dequantize
    kind = t.tensor_type.name
    if kind not in TYPES:
        raise ImportError_(f"tensor {t.name} is {kind}; supported tensor types: {', '.join(TYPES)} (requantize with llama-quantize)")
    shape = tuple(int(s) for s in reversed(t.shape.tolist()))  # GGUF lists dims fastest first
    a = np.asarray(t.data) if kind == "F32" else dequantize(np.asarray(t.data), t.tensor_type)
    return np.ascontiguousarray(a.astype(np.float32).reshape(shape))


def tokenizer_from_gguf(reader, out: pathlib.Path) -> dict:
    """Writes the file's byte-level BPE vocabulary as a tokenizer.json at `out`; returns it as a dict."""
    import json

    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    kind = field(reader, "tokenizer.ggml.model")
    if kind != "gpt2":
        raise ImportError_(f"the GGUF tokenizer is {kind!r}; only byte-level BPE ('gpt2') is rebuilt from the file: "
                           "pass --tokenizer tokenizer.json")
    tokens = field(reader, "tokenizer.ggml.tokens")
    merges = field(reader, "tokenizer.ggml.merges") or []
    types = field(reader, "tokenizer.ggml.token_type") or [1] * len(tokens)
    pre = field(reader, "tokenizer.ggml.pre", "default")
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, [tuple(m.split(" ", 1)) for m in merges], fuse_unk=False))
    if pre in PRE:
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(PRE[pre]), "isolated"),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif pre in ("default", "gpt-2", "gpt2"):
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        raise ImportError_(f"GGUF pre-tokenizer {pre!r} is not known here: pass the model's tokenizer.json with --tokenizer")
    tok.decoder = decoders.ByteLevel()
    # control and user-defined tokens
    special = [AddedToken(tokens[i], special=True, normalized=False) for i, ty in enumerate(types) if int(ty) in (3, 4)]
    tok.add_special_tokens(special)
    tok.save(str(out))
    return json.loads(out.read_text())


def load_gguf(path, tokenizer_out: pathlib.Path, tokenizer_in: pathlib.Path | None = None) -> tuple[LM, dict, dict]:
    """(LM, manifest notes, special tokens) from a GGUF file; writes its tokenizer.json to tokenizer_out."""
    import json

    from gguf import GGUFReader
    path = pathlib.Path(path)
    if not path.is_file():
        raise ImportError_(f"{path} is not a file")
    try:
        reader = GGUFReader(str(path))
    except Exception as e:  # noqa: BLE001 (the gguf package raises plain ValueError / struct errors)
        raise ImportError_(f"{path} is not a readable GGUF file: {str(e).splitlines()[0]}") from None
    arch = field(reader, "general.architecture")
    if arch not in ARCHS:
        raise ImportError_(f"GGUF architecture {arch!r} is not supported (supported: {', '.join(ARCHS)})")
    a = lambda k, d=None: field(reader, f"{arch}.{k}", d)
    tensors = {t.name: t for t in reader.tensors}
    hf = {"architectures": [ARCHS[arch]], "hidden_size": a("embedding_length"), "num_hidden_layers": a("block_count"),
          "num_attention_heads": a("attention.head_count"), "num_key_value_heads": a("attention.head_count_kv"),
          "intermediate_size": a("feed_forward_length"), "rms_norm_eps": a("attention.layer_norm_rms_epsilon", 1e-6),
          "rope_theta": a("rope.freq_base", 10000.0), "head_dim": a("attention.key_length"),
          "vocab_size": a("vocab_size") or int(tensors["token_embd.weight"].shape[1])}
    scaling = a("rope.scaling.type")
    if scaling and scaling != "none":
        hf["rope_scaling"] = {"rope_type": scaling, "factor": a("rope.scaling.factor", 1.0)}
    if "rope_freqs.weight" in tensors:
        raise ImportError_("per-dimension RoPE frequency factors (rope_freqs, Llama 3.1 style) are not supported from GGUF: "
                           "import the Hugging Face folder")
    if any(isinstance(hf[k], (list, np.ndarray)) for k in ("num_attention_heads", "num_key_value_heads", "intermediate_size")):
        raise ImportError_("per-layer head counts or widths are not supported")
    sd = {}
    for name, t in tensors.items():
        hn = hf_name(name)
        if hn is None:
            raise ImportError_(f"GGUF tensor {name} is not part of a {arch} decoder this importer knows")
        w = tensor_array(t)
        if arch == "llama" and (".attn_q." in name or ".attn_k." in name):
            w = unpermute(w, hf["num_attention_heads"] if ".attn_q." in name else hf["num_key_value_heads"] or hf["num_attention_heads"])
        sd[hn] = torch.from_numpy(w)
    cfg, notes = config_from_hf(hf, set(sd))
    if tokenizer_in is not None:
        tok = json.loads(pathlib.Path(tokenizer_in).read_text())
        tokenizer_out.write_text(json.dumps(tok))
    else:
        tok = tokenizer_from_gguf(reader, tokenizer_out)
    eos = field(reader, "tokenizer.ggml.eos_token_id")
    special = fim_tokens(tok, {"eos_token_id": eos} if eos is not None else {})
    if field(reader, "tokenizer.ggml.add_bos_token", False) and field(reader, "tokenizer.ggml.bos_token_id") is not None:
        special["bos"] = int(field(reader, "tokenizer.ggml.bos_token_id"))
    notes["gguf"] = {"file": path.name, "types": sorted({t.tensor_type.name for t in tensors.values()})}
    return lm_from_state_dict(cfg, sd), notes, special
