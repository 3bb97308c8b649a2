"""Candidate dumps of the names bench (`node out/bench-names.js ... --candidates --features`): one row
per position, with each candidate name's feature vector. The rank scorers' fitting scripts
(evaluation/fit_rank.py, evaluation/fit_rank_trees.py) read them through this one filter."""

import json


def candidate_rows(paths, kind):
    """The rows of `kind` (`dot` or `arg`) that have features, from one dump path or several. A
    position whose trigger the ranking reads as the other kind carries the other kind's feature
    vector: only rows of the most common vector length are kept."""
    paths = [paths] if isinstance(paths, str) else paths
    rows = [r for p in paths for r in json.load(open(p)) if r["kind"] == kind and r.get("features")]
    dims = [len(next(iter(r["features"].values()))) for r in rows]
    if not dims:
        return []
    d = max(set(dims), key=dims.count)
    return [r for r, n in zip(rows, dims) if n == d]
