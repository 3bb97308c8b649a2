"""Reading weights back: training checkpoints (train.py's EMA weights) and model folders (the
manifest's config and the fp16 training weights that model_folder.py writes beside the graphs).
No onnx here: training from a checkpoint does not need it."""
from __future__ import annotations

import json
import pathlib

import torch

from tbtrain.model import LM, Config
from tbtrain.predictor import Predictor


def load_lm(path) -> LM:
    """A training checkpoint (EMA weights) or a model folder (its fp16 training weights)."""
    if pathlib.Path(path).is_dir():
        return lm_from_folder(path).eval().requires_grad_(False)
    st = torch.load(path, weights_only=False)
    lm = LM(Config(**st["config"]))
    lm.load_state_dict(st.get("ema", st.get("model")))
    return lm.eval().requires_grad_(False)


def folder_config(path) -> Config:
    """A model folder's manifest config."""
    cfg = json.loads((pathlib.Path(path) / "manifest.json").read_text())["config"]
    return Config(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items() if k in Config.__dataclass_fields__})


def lm_from_folder(path) -> LM:
    """The LM of a model folder: its manifest's config and fp16 training weights (not in eval mode)."""
    lm = LM(folder_config(path))
    lm.load_state_dict(load_weights(path))
    return lm


def predictor_from_folder(path, lm: LM) -> Predictor:
    """The TokenButler predictor of a model folder, from its fp16 training weights, in eval mode."""
    from safetensors.torch import load_file
    pred = Predictor(lm.cfg)
    sd = load_file(str(pathlib.Path(path) / "lm.fp16.safetensors"))
    pred.load_state_dict({k[len("predictor."):]: v.float() for k, v in sd.items() if k.startswith("predictor.")})
    return pred.eval().requires_grad_(False)


def load_weights(path: str) -> dict:
    """LM weights from a training checkpoint (EMA) or from a model folder's fp16 safetensors."""
    p = pathlib.Path(path)
    if p.is_dir():
        p = p / "lm.fp16.safetensors"
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file
        sd = {k: v.float() for k, v in load_file(str(p)).items() if not k.startswith("predictor.")}
        sd.setdefault("lm_head.weight", sd["model.embed_tokens.weight"])  # tied (an untied head is stored)
        return sd
    st = torch.load(p, weights_only=False)
    return st.get("ema", st.get("model", st))


def save_fp16(lm: LM, pred: Predictor, path: pathlib.Path):
    """fp16 copy of the weights (Hugging Face Llama names, tied head stored once) so training can
    continue from a committed model when the checkpoint folder is gone."""
    from safetensors.torch import save_file
    sd = {k: v.half().contiguous() for k, v in lm.state_dict().items() if k != "lm_head.weight" or not lm.cfg.tie_embeddings}
    sd.update({f"predictor.{k}": v.half().contiguous() for k, v in pred.state_dict().items()})
    save_file(sd, str(path), metadata={"config": json.dumps(lm.cfg.to_dict())})
