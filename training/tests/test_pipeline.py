"""Corpus filters, tokenizer, multi-file FIM samples and a few real training steps, on tiny data."""
import json
import pathlib
import re
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

ROOT = pathlib.Path(__file__).resolve().parents[1]
from tokenizers import Tokenizer, pre_tokenizers, trainers

from tbtrain import corpus
from tbtrain.data import EOT, FILE_SEP, FIM_PREFIX, FIM_SUFFIX, Sampler, dependencies, newline_table, prepare
from tbtrain.model import LM, Config
from tbtrain.ngram import ngram_lookup, ngram_lookup_last
from tbtrain.rename import Renamer
from tbtrain.synthetic import KeyValue, NameCopy, copy_batch
from tbtrain.tokenizer import SPECIALS, build_empty

TS = """import { helper } from './helper';

export interface Options {
  retries: number;
  name?: string;
}

export function run(opts: Options): string {
  const out: string[] = [];
  for (let i = 0; i < opts.retries; i++) {
    out.push(helper(opts.name ?? 'x', i));
  }
  return out.join('\\n');
}
"""


class CopyBatches(unittest.TestCase):
    def check(self, rows, mask, min_dist=0):
        """Every scored position's target is predictable: the token before it and the target occur
        together earlier in the row (the planted span)."""
        dists = []
        for r, m in zip(rows, mask):
            body = r[1:]
            for i in np.flatnonzero(m):
                hits = [j for j in range(1, i) if body[j] == body[i] and body[j - 1] == body[i - 1]]
                self.assertTrue(hits, f"position {i} is not a copy")
                dists.append(i - max(hits))
        return dists

    def test_planted_copies(self):
        rng = np.random.default_rng(0)
        rows, mask = copy_batch(rng, 4, 512, 4096, None)
        self.assertGreater(mask.sum(), 50)
        self.check(rows, mask)

    def test_spread_copies_reach_far(self):
        rng = np.random.default_rng(1)
        rows, mask = copy_batch(rng, 2, 2048, 4096, None, spread=8)
        self.assertTrue((mask[:, :1024] == False).all())  # noqa: E712  copies only in the second half
        self.assertGreater(mask.sum(1).min(), 8 * 6)
        d = self.check(rows, mask)
        self.assertGreater(max(d), 1500)
        self.assertLess(min(d), 1024)


class CorpusFilters(unittest.TestCase):
    def test_licenses(self):
        self.assertTrue(corpus.license_ok("MIT"))
        self.assertTrue(corpus.license_ok("(MIT OR GPL-3.0)"))
        self.assertFalse(corpus.license_ok("MIT AND Zlib"))
        self.assertFalse(corpus.license_ok("GPL-3.0"))
        self.assertTrue(corpus.license_ok({"type": "ISC"}))
        self.assertFalse(corpus.license_ok(None))

    def test_minified_and_variants(self):
        self.assertTrue(corpus.looks_minified("var a=1;" * 2000))
        self.assertFalse(corpus.looks_minified(TS))
        keep = corpus.choose_variants({"src/a.ts": TS, "dist/a.js": "x", "dist/a.d.ts": "y", "dist/cjs/a.cjs": "z", "lib/b.js": "q"})
        self.assertEqual(keep, ["lib/b.js", "src/a.ts"])

    def test_held_out_families(self):
        self.assertEqual(corpus.family("d3-array"), "d3")
        self.assertEqual(corpus.family("@trpc/server"), "@trpc")
        self.assertIn("zod", corpus.HELD_OUT_FAMILIES)


def tiny_tokenizer(tmp: pathlib.Path) -> Tokenizer:
    tok = build_empty()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TS] * 20, trainer)
    tok.save(str(tmp / "tokenizer.json"))
    return Tokenizer.from_file(str(tmp / "tokenizer.json"))


class TokenizerAndData(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = pathlib.Path(tempfile.mkdtemp())
        cls.tok = tiny_tokenizer(cls.tmp)
        corpus_dir = cls.tmp / "corpus"; corpus_dir.mkdir()
        rows = [{"pkg": f"p{p}", "path": f"src/f{i}.ts", "text": TS.replace("run", f"run{i}")} for p in range(3) for i in range(4)]
        for split in ("train", "valid"):
            (corpus_dir / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        prepare(corpus_dir, cls.tmp / "tokenizer.json", cls.tmp / "tokens")

    def test_specials_and_round_trip(self):
        for i, s in enumerate(SPECIALS):
            self.assertEqual(self.tok.token_to_id(s), i)
        for text in (TS, "a\r\n\tb  \u00a0c 🎉 中文", ""):
            ids = self.tok.encode(text, add_special_tokens=False).ids
            self.assertEqual(self.tok.decode(ids, skip_special_tokens=False), text)

    def test_multi_file_fim_samples(self):
        s = Sampler(self.tmp / "tokens", "train", 256, fim_rate=1.0, seed=3, newline_ids=newline_table(self.tok))
        prev, row = s.sample()
        self.assertEqual(row.shape, (257,))
        self.assertGreaterEqual(int((row == FILE_SEP).sum()), 2)  # several files of one package
        text = self.tok.decode(row.tolist(), skip_special_tokens=False)
        self.assertIn("<|fim_suffix|>", text)
        # suffix comes before prefix, and a FIM file ends with <|endoftext|>
        i_suf = int(np.flatnonzero(row == FIM_SUFFIX)[0])
        nxt = np.flatnonzero(row[i_suf:] == FIM_PREFIX)
        if len(nxt):
            self.assertGreater(int(np.flatnonzero(row[i_suf:] == EOT)[0]) if (row[i_suf:] == EOT).any() else 10**9, int(nxt[0]))

    def test_dependency_resolution(self):
        rows = [
            {"pkg": "a", "path": p, "text": t}
            for p, t in (
                (
                    "src/index.ts",
                    "export * from './util';\nimport { b } from \"./lib/b.js\";\nconst c = require('../c');\nimport x from 'react';",
                ),
                ("src/lib/b.ts", "import './side';\nexport const b = await import('./missing');"),
                ("src/util/index.ts", "export const u = 1;"),
                ("c.js", "module.exports = 1;"),
                ("src/lib/side.tsx", ""),
            )
        ]
        rows += [{"pkg": "b", "path": "src/lib/b.ts", "text": ""}]  # same path in another package: never a dependency
        deps = dependencies(rows)
        self.assertEqual(sorted(deps[0]), [1, 2, 3])  # ./util -> util/index.ts, ./lib/b.js -> b.ts, ../c -> c.js; bare 'react' ignored
        self.assertEqual(deps[1], [4])
        self.assertEqual(deps[2:], [[], [], [], []])

    def test_dependency_order_puts_imports_first(self):
        s = Sampler(self.tmp / "tokens", "train", 256, fim_rate=0.0, seed=3)
        s.deps = [[1, 2], [2], [], [0]] + [[] for _ in range(len(s.index) - 4)]
        for _ in range(5):
            order = s.dep_order([0, 1, 2, 3])
            self.assertEqual(sorted(order), [0, 1, 2, 3])
            pos = {f: i for i, f in enumerate(order)}
            self.assertTrue(pos[2] < pos[1] < pos[0] < pos[3])
        self.assertEqual(sorted(s.dep_order([0, 3])), [0, 1, 2, 3])  # imports outside the list come along, once

    def test_renaming_is_consistent_and_keeps_library_names(self):
        vocab = {"common": ["helper", "Options", "retries", "string", "push", "join", "export", "interface", "function",
                            "const", "return", "number", "import", "from", "name"],
                 "words": ["amber", "cargo", "delta", "ember", "falcon", "glacier"]}
        r = Renamer(self.tok, vocab, np.random.default_rng(0))
        s = Sampler(self.tmp / "tokens", "train", 256, fim_rate=0.5, seed=5, newline_ids=newline_table(self.tok),
                    renamer=r, rename_rate=1.0)
        for _ in range(4):
            prev, row = s.sample()
            self.assertEqual(row.shape, (257,))
        row = np.concatenate([[FILE_SEP], self.tok.encode("src/util.ts\n" + TS).ids, [FILE_SEP],
                              self.tok.encode("src/main.ts\nrun(opts); runner(opts)").ids])
        new, mapping = r(row)
        text = self.tok.decode(new.tolist(), skip_special_tokens=False)
        self.assertEqual(int((new == FILE_SEP).sum()), 2)  # special tokens stay
        self.assertEqual(set(mapping), {"opts", "runner", "util", "main"})  # rare names of >= 4 chars only
        self.assertNotIn("opts", text); self.assertIn("helper(", text); self.assertIn("retries", text)
        self.assertEqual(text.count(mapping["opts"]), TS.count("opts") + 2)  # every occurrence, in both files
        self.assertIn(f"src/{mapping['util']}.ts", text)
        literal, m = 'const x = 0xDEADBEEF; const s = "\\u00a0\\nwrapped";', {}
        self.assertEqual(r.rename_text(literal, m, set()), literal)  # no names inside numbers or escapes
        self.assertEqual(m, {})
        for old, new_name in mapping.items():
            self.assertNotEqual(old, new_name)
            self.assertEqual(new_name[0].isupper(), old[0].isupper())  # case style kept

    def test_name_copies_are_reuses_of_earlier_names(self):
        words = ["amber", "cargo", "delta", "ember", "falcon", "glacier", "harbor", "island"]
        code = np.concatenate([self.tok.encode(TS).ids] * 40).astype(np.uint16)
        nc = NameCopy(self.tok, words, np.random.default_rng(3), names=12, family=3)
        rows, mask = nc.batch(2, 1024, code)
        self.assertEqual(rows.shape, (2, 1025))
        for r, m in zip(rows, mask):
            body = r[1:].tolist()
            starts = [i for i in np.flatnonzero(m) if not m[i - 1]]
            self.assertGreater(len(starts), 12)  # each name is reused at least once
            for a in starts:
                b = a
                while b < len(m) and m[b]:
                    b += 1
                name = self.tok.decode(body[a - 1:b]).strip()  # the reuse, first token included
                self.assertRegex(name, r"^[A-Za-z_]+$")
                self.assertTrue(any(w in name.lower() for w in words))
                before = self.tok.decode(body[:a - 1])
                self.assertIn(name, before)  # declared earlier: the scored tokens are copyable

    def test_key_value_rows_score_values_determined_by_their_key(self):
        """Each scored span is a value whose key the use-site line names and which an earlier definition
        gave that key; excluded words never occur in values; at least two uses per row."""

        words = ["amber", "cargo", "delta", "ember", "falcon", "glacier", "harbor", "island", "jasper", "kernel", "lagoon", "maple"]
        code = np.concatenate([self.tok.encode(TS).ids] * 60).astype(np.uint16)
        kv = KeyValue(self.tok, words, np.random.default_rng(5), exclude={"ember", "maple"})
        rows, mask = kv.batch(4, 1024, code)
        self.assertEqual(rows.shape, (4, 1025))
        for r, m in zip(rows, mask):
            body = r[1:].tolist()
            idx = np.flatnonzero(m)
            spans = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
            self.assertGreaterEqual(len(spans), 2)
            for sp in spans:
                a, b = int(sp[0]), int(sp[-1]) + 1
                answer = self.tok.decode(body[a:b]).strip().strip("\"'")
                self.assertRegex(answer, r"^[A-Za-z0-9_./: -]+$")
                self.assertNotIn("ember", answer); self.assertNotIn("maple", answer)
                before = self.tok.decode(body[:a])
                line = before[before.rindex("\n") + 1:]
                defined = [k for k in re.findall(r"[A-Za-z_]\w*", line)
                           if re.search(re.escape(k) + r'"?\s*[:=]\s*["\']?' + re.escape(answer) + r"\b", before[:-len(line)])]
                self.assertTrue(defined, f"{answer!r} is not the value of a key named in {line!r}")

    def test_a_few_training_steps_reduce_loss(self):
        torch.manual_seed(0)
        cfg = Config(vocab_size=self.tok.get_vocab_size(), d_model=32, n_layers=2, n_heads=2, n_kv_heads=2, head_dim=16, ffn_dim=64)
        lm = LM(cfg)
        opt = torch.optim.AdamW(lm.parameters(), lr=3e-3)
        s = Sampler(self.tmp / "tokens", "train", 128, fim_rate=0.5, seed=1, newline_ids=newline_table(self.tok))
        prev, rows = s.batch(4)
        x, y, p = torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:]), torch.from_numpy(prev)
        first = None
        for _ in range(30):
            loss = F.cross_entropy(lm(x, p).view(-1, cfg.vocab_size), y.reshape(-1))
            first = first or loss.item()
            opt.zero_grad(); loss.backward(); opt.step()
        self.assertLess(loss.item(), first * 0.7)

    def test_pointer_training_path_equals_the_full_mixture(self):
        """LM.nll (train.py's loss, no [B,T,V] copy scatter) is the cross-entropy of the full pointer
        mixture, and a few steps on it reduce the loss."""
        self.check_training_path(ngram=0)

    def test_ngram_training_path_equals_the_full_mixture(self):
        self.check_training_path(ngram=4)

    def test_ngram_lookup_all_positions_equals_last_position(self):
        """ngram.ngram_lookup (training, every position) and ngram_lookup_last (the graphs' form)."""
        g = torch.Generator().manual_seed(0)
        for T in (1, 2, 7, 80):
            ids = torch.randint(0, 5, (1, T), generator=g)
            w, f = ngram_lookup(ids, 6, 30.0)
            for t in range(T):
                w1, f1 = ngram_lookup_last(ids[0, :t + 1], 6, 30.0)
                torch.testing.assert_close(w[0, t, :t + 1], w1)
                self.assertEqual(float(w[0, t, t + 1:].abs().sum()), 0.0)
                torch.testing.assert_close(f[0, t], f1)
        # a repeated span: the continuation is the only candidate, at the span's length
        ids = torch.tensor([9, 1, 2, 3, 4, 8, 7, 1, 2, 3])
        w, f = ngram_lookup_last(ids, 6, 30.0)
        self.assertEqual(w.nonzero().flatten().tolist(), [4])
        self.assertEqual(int(f[:7].argmax()), 3)

    def check_training_path(self, ngram):
        torch.manual_seed(0)
        cfg = Config(vocab_size=self.tok.get_vocab_size(), d_model=32, n_layers=2, n_heads=2, n_kv_heads=1, head_dim=16, ffn_dim=64,
                     copy_heads=(1, 2), ngram_max=ngram)
        lm = LM(cfg)
        torch.nn.init.normal_(lm.copy_gate.weight, std=0.5)
        if ngram:
            torch.nn.init.normal_(lm.copy_gate_f.weight, std=0.5)
        s = Sampler(self.tmp / "tokens", "train", 128, fim_rate=0.5, seed=1, newline_ids=newline_table(self.tok))
        prev, rows = s.batch(4)
        x, y, p = torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:]), torch.from_numpy(prev)
        full = F.cross_entropy(lm(x, p).transpose(1, 2), y, reduction="none")
        torch.testing.assert_close(lm.nll(x, p, y), full, atol=1e-5, rtol=1e-5)
        opt = torch.optim.AdamW(lm.parameters(), lr=3e-3)
        first = None
        for _ in range(30):
            loss = lm.nll(x, p, y).mean()
            first = first or loss.item()
            opt.zero_grad(); loss.backward(); opt.step()
        self.assertLess(loss.item(), first * 0.7)


if __name__ == "__main__":
    unittest.main()
