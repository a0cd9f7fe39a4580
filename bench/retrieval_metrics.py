"""Ranking metrics for similar-case retrieval with label-set relevance (used by bench/retrieval.py).

Relevance of an archive case ``c`` to a query ``q``, both given as label sets:

* lenient: they share at least one finding; a No Finding query matches only No Finding cases
  (and a No Finding case matches only a No Finding query);
* strict: the label sets are equal;
* graded (nDCG): the Jaccard index of the two label sets.

``AP@k`` is normalised by ``min(k, R)`` where ``R`` is the number of relevant cases in the archive
(so a perfect top-k scores 1 even when R > k). MRR is the reciprocal rank of the first relevant case
within the ranking given (0 when none). R@k, AP@k and MRR are averaged over queries with R ≥ 1;
P@k and nDCG@k over all queries (nDCG over queries whose best possible gain is > 0).
"""
from __future__ import annotations

import numpy as np

NO_FINDING = "No Finding"


def label_matrix(label_sets: list, names: tuple[str, ...]) -> np.ndarray:
    """Return a ``(n, len(names))`` bool matrix from label-name collections."""
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(label_sets), len(names)), dtype=bool)
    for row, labels in enumerate(label_sets):
        for name in labels:
            if name in index:
                matrix[row, index[name]] = True
    return matrix


def relevance(query: np.ndarray, archive: np.ndarray, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Relevance of every archive row to one query row: ``lenient``/``strict`` bool, ``graded`` Jaccard."""
    nf = names.index(NO_FINDING) if NO_FINDING in names else None
    findings = np.ones(len(names), dtype=bool)
    if nf is not None:
        findings[nf] = False
    shared_findings = (archive[:, findings] & query[findings]).any(axis=1)
    if nf is not None and query[nf]:
        lenient = archive[:, nf].copy()
    elif nf is not None:
        lenient = shared_findings & ~archive[:, nf]
    else:
        lenient = shared_findings
    strict = (archive == query).all(axis=1)
    union = (archive | query).sum(axis=1)
    inter = (archive & query).sum(axis=1)
    graded = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return {"lenient": lenient, "strict": strict, "graded": graded.astype(np.float64)}


def query_metrics(ranking: np.ndarray, rel: np.ndarray, graded: np.ndarray, k: int = 10) -> dict:
    """Metrics of one ranked list of archive rows against boolean ``rel`` and ``graded`` gains."""
    top = ranking[:k]
    hits = rel[top].astype(np.float64)
    total = int(rel.sum())
    out = {f"p_at_{n}": float(hits[:n].sum() / n) for n in (1, 5, 10) if n <= k}
    out["relevant_in_archive"] = total
    if total:
        out[f"r_at_{k}"] = float(hits.sum() / total)
        precision_at_i = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        out[f"map_at_{k}"] = float((precision_at_i * hits).sum() / min(k, total))
        first = np.flatnonzero(rel[ranking])
        out["mrr"] = float(1.0 / (first[0] + 1)) if len(first) else 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.sort(graded)[::-1][:k]
    idcg = float((ideal * discounts[:len(ideal)]).sum())
    if idcg > 0:
        out[f"ndcg_at_{k}"] = float((graded[top] * discounts[:len(top)]).sum() / idcg)
    return out


def mean_metrics(per_query: list[dict]) -> dict:
    """Average each metric over the queries that have it; add ``queries`` and ``queries_with_relevant``."""
    keys = sorted({key for row in per_query for key in row if key != "relevant_in_archive"})
    out = {key: float(np.mean([row[key] for row in per_query if key in row])) for key in keys}
    out["queries"] = len(per_query)
    out["queries_with_relevant"] = sum(1 for row in per_query if row["relevant_in_archive"] > 0)
    return out
