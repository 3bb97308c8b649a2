"""Where the pipeline's files live: TRAINING is training/; its work/ folder (git-ignored) holds
everything generated (corpus, tokenizer, token files, checkpoints)."""
import pathlib

TRAINING = pathlib.Path(__file__).parents[1]
