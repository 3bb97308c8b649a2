"""Importing pretrained checkpoints (pipeline/import_hf.py): tiny random-weight LlamaForCausalLM (untied head,
linear rope scaling) and Qwen2ForCausalLM (q/k/v biases, tied, padded vocabulary), both with grouped-query
attention, created here with `transformers`; their imported dense graph equals transformers' forward, the
sparse graph at a budget covering every token equals dense, the same weights written as a GGUF (f16, with the
gguf package, q/k permuted as llama.cpp's converter does) import to the same logits, unsupported inputs get
one clear error, and the TypeScript CLI completes with --model on an imported folder."""
import contextlib
import importlib.util
import io
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers", reason="transformers is not installed (training/requirements.txt)")

from tbtrain.ort_runner import GraphRunner  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "training/pipeline/import_hf.py"
SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|file_sep|>"]
N = 300


def run_import(*argv) -> tuple[int, str]:
    """The script's main() in this process (torch is loaded once): (exit code, stderr)."""
    spec = importlib.util.spec_from_file_location("import_hf_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = mod.main(list(argv))
    return rc, err.getvalue()


def tiny_tokenizer(path: pathlib.Path, fim: bool = True) -> int:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    text = [(ROOT / "test/fixtures/ws/src" / f).read_text() for f in ("main.ts", "shapes.ts", "geometry.ts")]
    tr = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS if fim else SPECIALS[:1],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(text * 4, tr)
    tok.save(str(path))
    return tok.get_vocab_size()


def make_hf(folder: pathlib.Path, arch: str, fim: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    V = tiny_tokenizer(folder / "tokenizer.json", fim)
    common = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
                  initializer_range=0.1, eos_token_id=0)
    torch.manual_seed(1)
    if arch == "llama":
        cfg = transformers.LlamaConfig(vocab_size=V, tie_word_embeddings=False, rope_theta=50000.0,
                                       rope_scaling={"rope_type": "linear", "factor": 2.0}, **common)
        model = transformers.LlamaForCausalLM(cfg)
    else:
        cfg = transformers.Qwen2Config(vocab_size=V + 16, tie_word_embeddings=True, rope_theta=1000000.0, **common)
        model = transformers.Qwen2ForCausalLM(cfg)
        with torch.no_grad():  # biases that matter
            for layer in model.model.layers:
                for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                    p.bias.normal_(0, 0.5)
    model.eval().save_pretrained(str(folder))
    return model, V


def permute(w: np.ndarray, n_head: int) -> np.ndarray:  # llama.cpp convert_hf_to_gguf.LlamaModel.permute
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(model, tok_json: pathlib.Path, path: pathlib.Path, arch: str, qtype: str = "F16"):
    """The model as llama.cpp's converter writes it: matrices in `qtype` (F16, BF16, Q8_0), vectors in f32."""
    import gguf
    from gguf.quants import quantize
    c = model.config
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(c.num_hidden_layers); w.add_context_length(4096); w.add_embedding_length(c.hidden_size)
    w.add_feed_forward_length(c.intermediate_size); w.add_head_count(c.num_attention_heads); w.add_head_count_kv(c.num_key_value_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps); w.add_rope_freq_base(model.config.rope_parameters["rope_theta"])
    rs = model.config.rope_parameters
    if rs.get("rope_type") == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR); w.add_rope_scaling_factor(rs["factor"])
    tok = json.loads(tok_json.read_text())
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    specials = {t["id"] for t in tok["added_tokens"]}
    w.add_tokenizer_model("gpt2"); w.add_tokenizer_pre("default")
    w.add_token_list([t for t, _ in vocab]); w.add_token_types([3 if i in specials else 1 for _, i in vocab])
    w.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in tok["model"]["merges"]])
    w.add_eos_token_id(0)
    names = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}
    layer = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm", "mlp.gate_proj": "ffn_gate",
             "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    sd = model.state_dict()
    if c.tie_word_embeddings:
        sd.pop("lm_head.weight", None)
    for k, v in sd.items():
        base, kind = k.rsplit(".", 1)
        if base.startswith("model.layers."):
            i, rest = base[len("model.layers."):].split(".", 1)
            name = f"blk.{i}.{layer[rest]}.{kind}"
        else:
            name = f"{names[base]}.{kind}"
        a = v.float().numpy()
        if arch == "llama" and rest_is(name, "attn_q"):
            a = permute(a, c.num_attention_heads)
        if arch == "llama" and rest_is(name, "attn_k"):
            a = permute(a, c.num_key_value_heads)
        if a.ndim == 1:
            w.add_tensor(name, a.astype(np.float32))
        elif qtype == "F16":
            w.add_tensor(name, a.astype(np.float16))
        else:
            q = getattr(gguf.GGMLQuantizationType, qtype)
            w.add_tensor(name, quantize(a.astype(np.float32), q), raw_dtype=q)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()


def rest_is(name: str, part: str) -> bool:
    return f".{part}." in name


def graph_logits(folder: pathlib.Path, ids: list[int], chunk: int = 100, sparse_from: int | None = None) -> dict[int, np.ndarray]:
    """{position: logits} at the end of each chunk (dense prefill), then one-token steps from sparse_from on
    through the sparse graph at a budget covering every token."""
    r = GraphRunner(folder, cap=len(ids) + 8)
    out, at = {}, 0
    stop = sparse_from if sparse_from is not None else len(ids)
    while at < stop:
        n = min(chunk, stop - at)
        out[at + n - 1] = r.run(ids[at:at + n])["logits"][0]; at += n
    for t in range(at, len(ids)):
        out[t] = r.run([ids[t]], sparse=True, budget=100000)["logits"][0]
    return out


@pytest.fixture(scope="module")
def work():
    torch.set_num_threads(2)
    d = pathlib.Path(tempfile.mkdtemp(prefix="tb-import-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def imported(request, work):
    arch = request.param
    hf = work / f"hf-{arch}"
    model, V = make_hf(hf, arch)
    out = work / f"model-{arch}"
    rc, err = run_import("--hf", str(hf), "--out", str(out), "--precision", "fp32")
    assert rc == 0, err
    ids = torch.from_numpy(np.random.default_rng(3).integers(len(SPECIALS), V, N))
    with torch.no_grad():
        ref = model(ids[None]).logits[0].float().numpy()
    return arch, model, hf, out, ids.tolist(), ref


def test_dense_graph_equals_transformers(imported):
    arch, _, _, out, ids, ref = imported
    got = graph_logits(out, ids)
    assert sorted(got) == [99, 199, 299]
    for t, lg in got.items():
        np.testing.assert_allclose(lg, ref[t], atol=1e-3, rtol=0, err_msg=f"{arch} position {t}")
    assert np.abs(ref[299]).max() > 0.5  # the logits are not trivially near zero


def test_sparse_graph_at_full_budget_equals_dense(imported):
    arch, _, _, out, ids, ref = imported
    dense = graph_logits(out, ids, chunk=50, sparse_from=None)
    sparse = graph_logits(out, ids, chunk=50, sparse_from=280)
    for t in range(280, N):
        np.testing.assert_allclose(sparse[t], ref[t], atol=1e-3, rtol=0, err_msg=f"{arch} sparse step {t}")
    np.testing.assert_allclose(sparse[299], dense[299], atol=1e-4, rtol=0)


def test_manifest_names_the_tokenizer_specials_and_no_predictor(imported):
    arch, _, _, out, _, _ = imported
    m = json.loads((out / "manifest.json").read_text())
    tok = json.loads((out / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tok["added_tokens"]}
    st = m["specialTokens"]
    assert (st["eot"], st["fimPrefix"], st["fimMiddle"], st["fimSuffix"], st["fileSep"]) == tuple(ids[s] for s in SPECIALS)
    assert m["fim"] == "psm" and m["predictor"]["trained"] is False
    assert m["source"]["architecture"] == {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}[arch]
    c = m["config"]
    assert (c["n_heads"], c["n_kv_heads"], c["prev_token"]) == (4, 2, False)
    assert c["attn_bias"] == (arch == "qwen2") and c["tie_embeddings"] == (arch == "qwen2")


def test_gguf_f16_imports_to_the_same_logits(imported, work):
    arch, model, hf, _, ids, ref = imported
    path = work / f"{arch}.gguf"
    write_gguf(model, hf / "tokenizer.json", path, arch)
    out = work / f"gguf-{arch}"
    rc, err = run_import("--gguf", str(path), "--out", str(out), "--precision", "fp32")
    assert rc == 0, err
    got = graph_logits(out, ids)
    for t, lg in got.items():
        np.testing.assert_allclose(lg, ref[t], atol=1e-2, rtol=0, err_msg=f"{arch} gguf position {t}")
    # the tokenizer rebuilt from the file's vocabulary encodes as the original
    from tokenizers import Tokenizer
    text = (ROOT / "test/fixtures/ws/src/main.ts").read_text()
    encode = lambda folder: Tokenizer.from_file(str(folder / "tokenizer.json")).encode(text).ids
    assert encode(out) == encode(hf)
    assert json.loads((out / "manifest.json").read_text())["specialTokens"]["fimMiddle"] is not None


@pytest.mark.parametrize("qtype,tol", [("BF16", 5e-2), ("Q8_0", 1e-1)])
def test_gguf_bf16_and_q8_0_are_dequantized(imported, work, qtype, tol):
    arch, model, hf, _, ids, ref = imported
    if arch != "qwen2":
        pytest.skip("one architecture is enough for the other tensor types")
    path = work / f"{arch}-{qtype}.gguf"
    write_gguf(model, hf / "tokenizer.json", path, arch, qtype)
    out = work / f"gguf-{arch}-{qtype}"
    rc, err = run_import("--gguf", str(path), "--out", str(out), "--precision", "fp32")
    assert rc == 0, err
    assert json.loads((out / "manifest.json").read_text())["source"]["gguf"]["types"] == sorted({"F32", qtype})
    for t, lg in graph_logits(out, ids).items():  # measured: bf16 0.012, q8_0 0.032 of logits up to ~3
        np.testing.assert_allclose(lg, ref[t], atol=tol, rtol=0, err_msg=f"{qtype} position {t}")


def test_no_fim_tokens_means_plain_prefix_completion(work):
    hf = work / "hf-nofim"
    make_hf(hf, "llama", fim=False)
    out = work / "model-nofim"
    rc, err = run_import("--hf", str(hf), "--out", str(out), "--precision", "int8")
    assert rc == 0, err
    m = json.loads((out / "manifest.json").read_text())
    assert m["fim"] == "none" and m["specialTokens"]["fimPrefix"] is None and m["specialTokens"]["fileSep"] is None
    assert m["graphs"] == {"dense": "dense.int8.onnx", "sparse": "sparse.int8.onnx"} and not (out / "dense.onnx").exists()


@pytest.mark.parametrize("case", ["architecture", "tokenizer", "weights", "rope", "gguf"])
def test_unsupported_or_incomplete_input_is_one_clear_error(case, work):
    hf = work / f"bad-{case}"
    shutil.rmtree(hf, ignore_errors=True)
    hf.mkdir()
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 300}
    tiny_tokenizer(hf / "tokenizer.json")
    args = ["--hf", str(hf)]
    want = {"architecture": "architecture GPT2LMHeadModel is not supported", "tokenizer": "tokenizer.json is missing",
            "weights": "no *.safetensors weights", "rope": "rope scaling 'yarn' is not supported", "gguf": "not a readable GGUF file"}[case]
    if case == "architecture":
        cfg["architectures"] = ["GPT2LMHeadModel"]
    elif case == "tokenizer":
        (hf / "tokenizer.json").unlink()
    elif case == "rope":
        cfg["rope_scaling"] = {"rope_type": "yarn", "factor": 4.0}
    elif case == "gguf":
        (hf / "x.gguf").write_bytes(b"not a gguf file at all")
        args = ["--gguf", str(hf / "x.gguf")]
    (hf / "config.json").write_text(json.dumps(cfg))
    rc, err = run_import(*args, "--out", str(work / "never"))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("import_hf: error: ") and want in lines[0], err
    assert not (work / "never" / "manifest.json").exists()


def test_the_cli_exits_2_with_one_line(work):
    p = subprocess.run([sys.executable, str(SCRIPT), "--hf", str(work / "nowhere"), "--out", str(work / "never")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "is not a folder" in p.stderr


@pytest.mark.skipif(not (ROOT / "dist/cli.js").exists() or shutil.which("node") is None,
                    reason="dist/cli.js is not built (node esbuild.mjs) or node is missing")
def test_the_engine_cli_completes_and_explains_with_an_imported_model(imported):
    arch, _, _, out, _, _ = imported
    if arch != "qwen2":
        pytest.skip("one architecture is enough for the engine check")
    base = ["node", str(ROOT / "dist/cli.js")]
    ws = ["--workspace", str(ROOT / "test/fixtures/ws"), "--file", "src/main.ts", "--model", str(out), "--json"]
    for policy in ("tokenbutler", "window", "dense"):
        p = subprocess.run(base + ["complete", *ws, "--line", "11", "--column", "10", "--policy", policy, "--no-monitors"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert isinstance(r["completion"], str) and r["contextTokens"] > 0
        assert r["policy"] == ("dense" if policy == "tokenbutler" else policy)  # no trained predictor: tokenbutler runs as dense
    p = subprocess.run(base + ["explain", *ws, "--start-line", "6", "--start-column", "3", "--end-line", "6", "--end-column", "30"],
                       capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["tokens"]


def test_a_predictor_distilled_on_a_folder_is_attached_and_resumes(imported, work):
    arch, _, _, out, ids, _ = imported
    if arch != "qwen2":
        pytest.skip("one architecture is enough for distillation")
    pred_dir = work / "pred-qwen2"
    train = [sys.executable, str(ROOT / "training/pipeline/train_predictor.py"), "--lm", str(out),
             "--data", str(ROOT / "test/fixtures/ws"), "--out", str(pred_dir), "--seq", "512", "--rows", "32",
             "--eval-every", "2", "--eval-windows", "1", "--threads", "2"]
    p = subprocess.run(train + ["--max-steps", "2"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "--data:" in p.stdout
    p = subprocess.run(train + ["--max-steps", "4", "--resume"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    st = torch.load(pred_dir / "pred.pt", weights_only=False)
    assert st["step"] == 4 and bool((st["predictor"]["ik_scale"] > 0).all())  # resumed at 2; calibrated on the folder
    attached = work / "model-qwen2-pred"
    p = subprocess.run([sys.executable, str(ROOT / "training/pipeline/export.py"), "--ckpt", str(out),
                        "--predictor", str(pred_dir / "pred.pt"), "--out", str(attached), "--measure", "0"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    m, before = (json.loads((d / "manifest.json").read_text()) for d in (attached, out))
    assert m["predictor"]["trained"] is True and "tokenbutler" in m["predictor"]["policies"]
    assert (m["specialTokens"], m["fim"], m["source"]) == (before["specialTokens"], before["fim"], before["source"])
    assert (attached / "tokenizer.json").read_bytes() == (out / "tokenizer.json").read_bytes()
    a, b = graph_logits(attached, ids, chunk=50, sparse_from=290), graph_logits(out, ids, chunk=50)
    np.testing.assert_allclose(a[299], b[299], atol=2e-2, rtol=0)  # fp16 copy of the weights; full budget = dense
