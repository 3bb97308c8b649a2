"""Bringing a pretrained Llama-family checkpoint into the graph contract (pipeline/import_hf.py):
a Hugging Face folder (config.json, *.safetensors, tokenizer.json) becomes this project's Config and an
LM with the checkpoint's weights, so it goes through the same graph builder (graph.py) and model-folder
writer (model_folder.py) as the default model. GGUF files: gguf_import.py.

Supported: LlamaForCausalLM, Qwen2ForCausalLM (q/k/v biases), MistralForCausalLM; grouped-query
attention; tied or untied embeddings; rope_theta; rope scaling "linear" and "llama3" (others refused).
The special tokens (end of text, BOS, FIM, file separator) come from the tokenizer (`fim_tokens`)."""
from __future__ import annotations

import json
import pathlib

import torch

from tbtrain.model import LM, Config

ARCHITECTURES = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}


class ImportError_(ValueError):
    """A checkpoint this importer cannot take; the message is one line that says why."""


def read_json(path: pathlib.Path) -> dict:
    if not path.exists():
        raise ImportError_(f"{path.name} is missing from {path.parent}")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise ImportError_(f"{path} is not valid JSON: {e}") from None


def rope_of(hf: dict) -> tuple[float, tuple]:
    """(rope_theta, Config.rope_scaling) from a config (transformers 4 `rope_theta` + `rope_scaling`, or 5 `rope_parameters`)."""
    params = dict(hf.get("rope_parameters") or {})
    scaling = dict(hf.get("rope_scaling") or {})
    theta = float(params.get("rope_theta", hf.get("rope_theta", 10000.0)))
    spec = {**scaling, **params}
    kind = spec.get("rope_type", spec.get("type", "default"))
    if kind in (None, "default"):
        return theta, ()
    if kind == "linear":
        return theta, ("linear", float(spec["factor"]))
    if kind == "llama3":
        return theta, ("llama3", float(spec["factor"]), float(spec["low_freq_factor"]), float(spec["high_freq_factor"]),
                       float(spec["original_max_position_embeddings"]))
    raise ImportError_(f"rope scaling {kind!r} is not supported (supported: none, linear, llama3)")


def config_from_hf(hf: dict, tensor_names: set[str]) -> tuple[Config, dict]:
    """This project's Config for a Hugging Face config.json, and notes for the manifest."""
    archs = hf.get("architectures") or []
    arch = next((a for a in archs if a in ARCHITECTURES), None)
    if arch is None:
        raise ImportError_(f"architecture {', '.join(archs) or hf.get('model_type', '?')} is not supported "
                           f"(supported: {', '.join(ARCHITECTURES)})")
    act = hf.get("hidden_act", "silu")
    if act not in ("silu", "swish"):
        raise ImportError_(f"activation {act!r} is not supported (SwiGLU with silu only)")
    if hf.get("mlp_bias"):
        raise ImportError_("mlp_bias is not supported")
    notes = {}
    sw = hf.get("sliding_window")
    if sw and (arch == "MistralForCausalLM" or hf.get("use_sliding_window")):
        notes["slidingWindow"] = f"the checkpoint attends within {sw} tokens; the graphs attend to the whole context"
    d, H = int(hf["hidden_size"]), int(hf["num_attention_heads"])
    n_layers = int(hf["num_hidden_layers"])
    if n_layers < 2:
        raise ImportError_("a model needs at least 2 layers (layer 0 is dense, the predictor serves layers 1..L-1)")
    theta, scaling = rope_of(hf)
    tied = "lm_head.weight" not in tensor_names or bool(hf.get("tie_word_embeddings", False))
    cfg = Config(
        vocab_size=int(hf["vocab_size"]), d_model=d, n_layers=n_layers, n_heads=H,
        n_kv_heads=int(hf.get("num_key_value_heads") or H), head_dim=int(hf.get("head_dim") or d // H),
        ffn_dim=int(hf["intermediate_size"]), rope_theta=theta, norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        prev_token=False, attn_bias="model.layers.0.self_attn.q_proj.bias" in tensor_names,
        o_bias="model.layers.0.self_attn.o_proj.bias" in tensor_names, tie_embeddings=tied, rope_scaling=scaling,
    )
    if cfg.n_heads % cfg.n_kv_heads:
        raise ImportError_(f"{cfg.n_heads} query heads do not group into {cfg.n_kv_heads} KV heads")
    return cfg, {"architecture": arch, **notes}


def load_safetensors(folder: pathlib.Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ImportError_(f"no *.safetensors weights in {folder} (PyTorch .bin checkpoints are not read: convert them to safetensors)")
    sd = {}
    for f in files:
        sd.update(load_file(str(f)))
    return {k: v for k, v in sd.items() if not k.endswith("rotary_emb.inv_freq")}


def lm_from_state_dict(cfg: Config, sd: dict[str, torch.Tensor]) -> LM:
    """The LM with the checkpoint's weights (fp32), strictly: a missing or unexpected tensor is refused."""
    with torch.device("meta"):
        lm = LM(cfg)
    sd = {k: v.float() for k, v in sd.items()}
    if cfg.tie_embeddings:
        sd.pop("lm_head.weight", None)
    want = {k for k in lm.state_dict() if not (cfg.tie_embeddings and k == "lm_head.weight")}
    missing, unexpected = sorted(want - set(sd)), sorted(set(sd) - want)
    if missing or unexpected:
        raise ImportError_(f"the weights do not match the config: missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                           f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}")
    for k, v in sd.items():
        want_shape = tuple(lm.state_dict()[k].shape)
        if tuple(v.shape) != want_shape:
            raise ImportError_(f"tensor {k} has shape {tuple(v.shape)}, the config implies {want_shape}")
    lm.load_state_dict(sd, assign=True, strict=False)
    if cfg.tie_embeddings:
        lm.lm_head.weight = lm.model.embed_tokens.weight
    return lm.eval().requires_grad_(False)


FIM_NAMES = {
    "fimPrefix": ("<|fim_prefix|>", "<fim_prefix>"),
    "fimMiddle": ("<|fim_middle|>", "<fim_middle>"),
    "fimSuffix": ("<|fim_suffix|>", "<fim_suffix>"),
    "fileSep": ("<|file_sep|>", "<file_sep>"),
}
EOT_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<|eot_id|>", "<eos>")


def bos_of(post) -> int | None:
    """The id a tokenizer.json post-processor puts before every sequence (Llama's BOS), if any."""
    if not post:
        return None
    if post.get("type") == "Sequence":
        return next((b for p in post.get("processors", []) if (b := bos_of(p)) is not None), None)
    if post.get("type") == "TemplateProcessing":
        single = post.get("single") or []
        if single and "SpecialToken" in single[0]:
            name = single[0]["SpecialToken"]["id"]
            ids = (post.get("special_tokens") or {}).get(name, {}).get("ids") or []
            return ids[0] if ids else None
    return None


def fim_tokens(tok: dict, hf: dict | None = None) -> dict:
    """The manifest's specialTokens from a tokenizer.json: eot, bos and the FIM / file-separator tokens
    (None where the tokenizer has none), and `stop`: every id that ends a completion."""
    added = {t["content"]: t["id"] for t in tok.get("added_tokens", [])}
    vocab = tok.get("model", {}).get("vocab", {})
    vocab = vocab if isinstance(vocab, dict) else {}
    lookup = lambda s: added.get(s, vocab.get(s))
    out = {k: next((lookup(n) for n in names if lookup(n) is not None), None) for k, names in FIM_NAMES.items()}
    eos = (hf or {}).get("eos_token_id")
    eos = [eos] if isinstance(eos, int) else list(eos or [])
    eot = next((lookup(n) for n in EOT_NAMES if lookup(n) is not None), eos[0] if eos else None)
    if eot is None:
        raise ImportError_("the tokenizer has no end-of-text token (<|endoftext|>, </s>, ...) and config.json names no eos_token_id")
    out["eot"] = eot
    out["bos"] = bos_of(tok.get("post_processor"))
    stops = {eot, *eos, *(i for k, i in out.items() if k in FIM_NAMES and i is not None)}
    for n in ("<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|fim_pad|>", "<|repo_name|>"):
        if lookup(n) is not None:
            stops.add(lookup(n))
    out["stop"] = sorted(stops)
    return out


def fim_mode(special: dict) -> str:
    """"psm" (prefix, suffix, middle: the order the imported checkpoints were trained with) or "none" (plain prefix completion)."""
    return "psm" if all(special.get(k) is not None for k in ("fimPrefix", "fimMiddle", "fimSuffix")) else "none"


def load_hf_folder(folder) -> tuple[LM, dict, pathlib.Path, dict]:
    """(LM, manifest notes, tokenizer.json path, the tokenizer's special tokens) from a Hugging Face folder."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ImportError_(f"{folder} is not a folder")
    hf = read_json(folder / "config.json")
    tok_path = folder / "tokenizer.json"
    tok = read_json(tok_path)
    gen = folder / "generation_config.json"
    if gen.exists():  # its eos ids are the ones generation stops at
        hf = {**hf, "eos_token_id": read_json(gen).get("eos_token_id", hf.get("eos_token_id"))}
    # the architecture first: an unsupported folder is refused before its weights are read
    config_from_hf(hf, {"lm_head.weight"})
    sd = load_safetensors(folder)
    cfg, notes = config_from_hf(hf, set(sd))
    return lm_from_state_dict(cfg, sd), notes, tok_path, fim_tokens(tok, hf)
