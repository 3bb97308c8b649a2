"""The training library: everything the scripts in pipeline/, evaluation/, probes/ and dataset/ share.
No module here imports a script, and the modules import each other without cycles
(tests/test_layout.py checks both).

  paths         where training/ and its work/ folder are
  corpus        the corpus filters (license, file types, minified code, held-out families)
  tokenizer     the byte-level BPE layout and its specials
  data          token files and repository-style multi-file samples (Sampler)
  rename        identifier renaming (invented names for rare identifiers)
  synthetic     synthetic copy rows: spans, invented names, key-value recall
  model         the LM (Llama-style, pointer heads, n-gram lookup gate); ngram: the lookup itself
  predictor     the importance predictor (producers, int8 importance keys, calibration)
  selection     the reference sparse decode (Cache, select_fresh, step) that the graphs mirror
  distill       distilling the predictor from the LM's attention; its recall metrics
  metrics       bytes per token, the held-out Evaluator train.py logs
  checkpoints   loading LM weights from checkpoints and model folders
  graph*        the ONNX graphs (graph.py builds them from graph_embed, graph_select,
                graph_attention, graph_pointer over graph_ops)
  model_folder  writes a model folder: graphs, int8 copies, weights, manifest
  hf_import     a pretrained Hugging Face Llama / Qwen2 / Mistral checkpoint as this LM (config, weights,
                special tokens); gguf_import: the same from a llama.cpp GGUF file; folder_data: training
                windows from a folder of source files in such a model's own tokenizer (train_predictor --data)
  ort_runner    the engine's cache around the graphs, in Python (parity tests, prefill quality)
  shadow        ShadowLLM (issue 29): the masked forward and importance criteria; shadow_pred: its predictors and
                data windows; shadow_graph: the standalone decode-step prototype; shadow_export: the engine's
                ShadowLLM graph variants (surgery on the plain graphs)
  policies      sparse attention policies in a decode simulation; coref: co-reference tasks;
                report: eval.py's markdown and plot
"""
