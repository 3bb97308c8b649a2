"""Code co-reference tasks (eval.py). A file defines names and values; thousands of tokens of real
held-out code (other files) follow; then another file must recall one of them at a use site. Two kinds:
  identifier: src/<word>.ts exports six functions named verb+Word+Word (invented); the later file
    has typed `import { <first token of one name>` and the answer is the rest of that name (what an
    editor completion must produce; the first tokens of the six names differ, so it is determined);
  value: src/config.ts holds six invented "word-word" values; the later file asserts
    `assert.equal(config.<key>, "` and the answer is the value (a two-hop recall: key, then value).
The word lists are shared with the synthetic key-value rows (synthetic.KeyValue), which leave
these words out so that training never sees the evaluation's answers."""
from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer

from tbtrain.data import FILE_SEP, Sampler
from tbtrain.policies import simulate

KEYS = ["serviceName", "regionLabel", "cacheNamespace", "ownerHandle", "buildChannel", "queueAlias", "themeVariant", "projectCode"]


VERBS = ["parse", "render", "merge", "resolve", "format", "collect", "encode", "measure", "schedule", "validate", "compute", "register"]


WORDS = """amber anchor badge banner beacon bridge canvas cargo cedar cipher cobalt comet copper coral crystal delta desert
ember falcon fennel fjord garnet glacier granite harbor hazel helix indigo island jasper juniper kernel lagoon lantern ledger
lotus magnet maple marble meadow meteor mosaic nectar nickel nimbus oasis onyx orchid pebble pepper pilot pixel plaza prism
quartz quiver raven ribbon saddle saffron salmon signal summit tango thistle timber topaz tulip velvet walnut willow zenith""".split()


def coref_examples(tok: Tokenizer, valid: Sampler, n: int, distract_tokens: int, kind: str, seed: int = 0):
    """Names and values are built from distinct real words (no word repeats inside an example), so
    copying the right one is unambiguous but guessing it is not."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        _, filler = valid.sample()
        filler = filler[:distract_tokens].tolist()
        words = rng.sample(WORDS, 12)
        if kind == "value":
            vals = {k: f"{words[2 * i]}-{words[2 * i + 1]}" for i, k in enumerate(rng.sample(KEYS, 6))}
            defn = "export const config = {\n" + "".join(f'  {k}: "{v}",\n' for k, v in vals.items()) + "};\n"
            key = rng.choice(list(vals))
            head = [FILE_SEP] + tok.encode("src/config.ts\n").ids + tok.encode(defn).ids
            use = [FILE_SEP] + tok.encode("src/check.ts\n").ids + tok.encode(
                f"import {{ config }} from './config';\nimport assert from 'assert';\n\nassert.equal(config.{key}, \"").ids
            out.append((head + filler + use, tok.encode(vals[key] + '"').ids))
            continue
        names = [v + words[2 * i].capitalize() + words[2 * i + 1].capitalize() for i, v in enumerate(rng.sample(VERBS, 6))]
        pieces = [tok.encode(" " + nm).ids for nm in names]  # as tokenized after a space, in both files
        if len({p[0] for p in pieces}) < len(pieces) or min(map(len, pieces)) < 2:
            continue  # the typed first token must single out one name
        defn = "".join(f"export function {nm}(input: string): string {{\n  return input.trim();\n}}\n\n" for nm in names)
        i = rng.randrange(len(names))
        head = [FILE_SEP] + tok.encode(f"src/{rng.choice(WORDS)}.ts\n").ids + tok.encode(defn).ids
        use = [FILE_SEP] + tok.encode("src/main.ts\n").ids + tok.encode("import {").ids + pieces[i][:1]
        out.append((head + filler + use, pieces[i][1:]))
    return out


@torch.no_grad()
def coref_score(lm, pred, examples, policy, budget):
    """Teacher-forced: an answer token counts when it is the model's top-1 at its position."""
    acc = cov = 0.0
    for prompt, answer in examples:
        ids = torch.tensor([prompt + answer])
        pr = simulate(lm, pred, ids, torch.tensor([0]), policy, budget, return_logits=True).argmax(-1)
        ok = (pr[-len(answer):] == ids[0, -len(answer):]).tolist()
        acc += float(all(ok)); cov += sum(ok) / len(ok)
    return acc / len(examples), cov / len(examples)
