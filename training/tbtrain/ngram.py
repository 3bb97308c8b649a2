"""The n-gram lookup (config.ngram_max): at each position, the earlier positions whose preceding
tokens match the longest suffix (up to K tokens) of the text so far, and the tokens that followed
them, recency-weighted; plus the copy gate's features of that match. Token ids only, so it sees
the whole context under any sparse attention budget. The graphs compute the last position's
(graph_pointer.ngram_last)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def ngram_features(cfg) -> int:
    """Width of the n-gram lookup's gate features: one-hot match length 0..K, log count, agreement."""
    return cfg.ngram_max + 3


def ngram_lookup(ids: torch.Tensor, K: int, tau: float):
    """N-gram lookup over ids [B, T]. For query t, key j <= t matches at length k when
    ids[j-r] == ids[t-r+1] for r = 1..k (so j >= k). With k* the longest length (<= K) at which
    some key matches, the copy weights are w[t, j] = m[j] * exp((j - j_last) / tau) / sum (m = the
    keys matching at k*, j_last the latest of them; all zero when nothing matches) and key j copies
    ids[j]. Returns w [B, T, T] and the gate features [B, T, K + 3]: one-hot k* (0..K),
    log1p(#matches) / 5, and the weight on keys whose token equals the latest match's token."""
    B, T = ids.shape
    t = torch.arange(T)
    best = torch.zeros(B, T, T, dtype=torch.bool)
    kstar = torch.zeros(B, T, dtype=torch.long)
    jlast = torch.zeros(B, T, dtype=torch.long)
    count = torch.zeros(B, T)
    # Per length k, group the k-grams (exactly, torch.unique); a query matches the keys right after
    # earlier members of its group. Sorting by (group, position) gives each position its latest
    # earlier member (j_last - 1) and how many there are, without a [T, T] pass per k.
    for b in range(B):
        x = ids[b]
        for k in range(1, min(K, T) + 1):
            _, inv = torch.unique(x.unfold(0, k, 1), dim=0, return_inverse=True)  # group of the k-gram ending at p = k-1..T-1
            pos = torch.arange(k - 1, T)
            order = torch.argsort(inv * T + pos)
            g_s, p_s = inv[order], pos[order]
            same = torch.zeros_like(g_s, dtype=torch.bool)
            same[1:] = g_s[1:] == g_s[:-1]
            if not same.any():
                break  # no match at k: none at longer lengths either
            prev = torch.full_like(pos, -1)
            prev[order[1:]] = torch.where(same[1:], p_s[:-1], -1)
            first = torch.cummax(torch.where(same, 0, torch.arange(len(order))), 0).values
            rank = torch.empty_like(pos)
            rank[order] = torch.arange(len(order)) - first
            has = prev >= 0
            rows = (k - 1) + has.nonzero().flatten()
            kstar[b, rows] = k
            jlast[b, rows] = prev[has] + 1
            count[b, rows] = rank[has].float()
            gk = torch.full((T + 1,), -1, dtype=torch.long)
            gk[k:] = inv                                        # gk[j]: group of the k-gram ending at j - 1
            best[b, rows] = (gk[None, :T] == inv[has][:, None]) & (t[None, :] <= rows[:, None])
    w = best * torch.exp((t.float() - (T - 1)) / tau)  # = exp((j - j_last) / tau) after normalising (no underflow while T < 87 * tau)
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-30)
    agree = (w * (ids[:, None, :] == ids.gather(1, jlast)[..., None])).sum(-1)
    feats = torch.cat([F.one_hot(kstar, K + 1).float(), torch.log1p(count)[..., None] / 5, agree[..., None]], -1)
    return w, feats


def ngram_lookup_last(ids: torch.Tensor, K: int, tau: float):
    """ngram_lookup for the last position only (a decode step): ids [N] -> w [N], features [K + 3].
    The same computation as the graphs' (graph_pointer.ngram_last), in O(K * N)."""
    N = ids.shape[0]
    j = torch.arange(N)
    m = torch.ones(N, dtype=torch.bool)
    best = torch.zeros(N, dtype=torch.bool)
    kstar = 0
    for k in range(1, K + 1):
        if k > N - 1:
            break
        # key j (>= k) matches at length k when ids[j-r] == ids[N-r] for r = 1..k
        m = m & (j >= k) & (F.pad(ids, (k, 0))[:N] == ids[N - k])
        if not m.any():
            break
        best, kstar = m, k
    jf = j.float()
    jlast = torch.where(best, jf, torch.zeros(())).amax()
    w = best * torch.exp((jf - jlast) / tau)
    w = w / w.sum().clamp_min(1e-30)
    agree = (w * (ids == ids[jlast.long()])).sum()
    feats = torch.cat([F.one_hot(torch.tensor(kstar), K + 1).float(), torch.log1p(best.sum().float())[None] / 5, agree[None]])
    return w, feats
