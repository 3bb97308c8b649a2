"""eval.py's report: bench/quality.md (bits/byte per policy and budget, the margins, co-reference,
recall, ablations), bench/coref.md and the quality plot."""
from __future__ import annotations

import json
import pathlib

from tbtrain.policies import SINKS


def coref_lines(r) -> list[str]:
    n = r.get("coref_seq", 0) - 300
    lines = [
        "",
        f"## Code co-reference (definition, then ~{n} tokens of other held-out files, then the use site; teacher-forced top-1; "
        f"n-gram lookup {'on' if r.get('lookup') else 'off'})",
        "",
        "identifier: complete an imported name from its first token; value: recall a config value by its key (two hops).",
        "",
        "| policy@budget | identifier accuracy | coverage | % of dense | value accuracy | coverage |",
        "|---|---|---|---|---|---|",
    ]
    ident, value = r["coref"].get("identifier", {}), r["coref"].get("value", {})
    dense = ident.get("dense", {}).get("accuracy", 0)
    for k in ident:
        i, v = ident[k], value.get(k, {"accuracy": float("nan"), "coverage": float("nan")})
        rel = f"{100 * i['accuracy'] / dense:.0f}%" if dense else "n/a"
        lines.append(f"| {k} | {i['accuracy']:.3f} | {i['coverage']:.3f} | {rel} | {v['accuracy']:.3f} | {v['coverage']:.3f} |")
    byd = r.get("coref_dense_by_distance", {})
    if byd:
        ds = sorted({int(k.split("@")[1]) for k in byd})
        lines += ["", "Dense model alone, by the number of filler tokens between definition and use:", "",
                  "| kind | " + " | ".join(f"{d} tokens" for d in ds) + " |", "|---" * (len(ds) + 1) + "|"]
        for kind in ("identifier", "value"):
            lines.append(
                f"| {kind} | "
                + " | ".join(f"{byd[f'{kind}@{d}']['accuracy']:.2f} ({byd[f'{kind}@{d}']['coverage']:.2f})" for d in ds)
                + " |"
            )
        lines.append("\n(accuracy, with token coverage in brackets)")
    return lines


BASELINES = ("window", "h2o", "quest", "random")  # the training-free policies


def margin_lines(r, budgets, policies, late: bool = False) -> list[str]:
    """Per fractional budget: tokenbutler against dense and against the best training-free baseline,
    and the ceiling of that margin: how much better dense (and the oracle) are than that baseline.
    No selection policy can beat the baseline by more than dense does. late: over the rows with a
    prefix of at least r["late_row"] tokens only (where a fractional budget is not a handful of tokens)."""
    bp = r.get("bpb_late", {}) if late else r["bpb"]
    base = [p for p in policies if p in BASELINES]
    if "tokenbutler" not in policies or not base or not all(f"{p}@{b}" in bp for p in base for b in budgets if isinstance(b, float)):
        return []
    title = f"## Margins over rows from {r['late_row']} on" if late else "## Margins"
    lines = ["", f"{title} (relative bits/byte; better = lower)", "",
             "| budget | tokenbutler vs dense | best baseline | tokenbutler better by | oracle better by | dense better by (ceiling) |",
             "|---|---|---|---|---|---|"]
    for b in budgets:
        if not isinstance(b, float):
            continue
        best = min(base, key=lambda p: bp[f"{p}@{b}"])
        bb = bp[f"{best}@{b}"]
        tb, dense = bp[f"tokenbutler@{b}"], bp["dense"]
        orc = f"{100 * (bb - bp[f'oracle@{b}']) / bb:.1f}%" if f"oracle@{b}" in bp else "n/a"
        lines.append(
            f"| {b:g} | {100 * (tb - dense) / dense:+.1f}% | {best} {bb:.4f} | {100 * (bb - tb) / bb:.1f}% | {orc} "
            f"| {100 * (bb - dense) / bb:.1f}% |"
        )
    return lines


def write_report(r, budgets, policies, out: pathlib.Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lines = [
        "# Quality vs budget (decode simulation on held-out packages)",
        "",
        f"Sequences of {r['seq']} tokens ({r.get('order', 'path')} order of a package's files); "
        f"n-gram lookup {'on' if r.get('lookup') else 'off (attention alone)'}; "
        f"budget = tokens attended per row (fractions of the row's prefix or a count), sinks {SINKS} and a recent window included: "
        f"clamp(budget / D, LO, HI) with (D, LO, HI) {r.get('recent_rules', 'n/a')}. Dense bits/byte: {r['bpb']['dense']:.4f}.",
        "",
        "| policy | " + " | ".join(str(b) for b in budgets) + " |",
        "|---" * (len(budgets) + 1) + "|",
    ]
    for p in policies:
        if p == "dense":
            continue
        lines.append(f"| {p} | " + " | ".join(f"{r['bpb'][f'{p}@{b}']:.4f}" for b in budgets) + " |")
    lines += margin_lines(r, budgets, policies) + margin_lines(r, budgets, policies, late=True)
    lines += coref_lines(r) if r["coref"] else []
    lines += [
        "",
        "## Predictor recall (held-out, excluding sinks and recent window)",
        "",
        "```",
        json.dumps(r["recall"], indent=1),
        "```",
    ] + (
        ["", "## Ablations (tokenbutler, 10% budget, bits/byte)", "", "```", json.dumps(r["ablation"], indent=1), "```"]
        if r["ablation"]
        else []
    )
    (out / "quality.md").write_text("\n".join(lines) + "\n")
    fr = [b for b in budgets if isinstance(b, float)]
    if not fr:  # the plot's x axis is the fractional budgets; token-count budgets alone have none to plot
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for p in policies:
        if p != "dense":
            ax.plot([b * 100 for b in fr], [r["bpb"][f"{p}@{b}"] for b in fr], marker="o", label=p)
    ax.axhline(r["bpb"]["dense"], color="k", ls="--", label="dense")
    ax.set_xscale("log"); ax.set_xlabel("budget (% of prefix)"); ax.set_ylabel("bits/byte"); ax.legend(); ax.grid(alpha=.3)
    fig.tight_layout(); fig.savefig(out / "quality.png", dpi=110)
