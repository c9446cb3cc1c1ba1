"""The occupation graph: bridges as weighted edges, career paths, communities, hub occupations.

    graph = bridge_graph(index, k=10, min_score=0.1)          # networkx.DiGraph, nodes = codes
    career_paths(index, graph, "H2102", "I1304", max_steps=3)  # best paths, each step explained
    communities(graph)                                         # Louvain, seeded
    hubs(index, graph)                                         # most cross-sector bridges
    export(graph, "graphml" | "gexf" | "json")                 # bytes (in memory, no file)

Nodes carry ``label``, ``domain``, ``sectors`` ("; "-joined, principal first), ``kind`` =
"occupation"; edges ``a -> b`` carry ``weight`` (the bridge score), ``similarity``, ``coverage``
and ``cross_sector``. With ``skills=True`` the skills of the occupations are attached as nodes
``skill:<code>`` (``kind`` = "skill") with edges occupation -> skill (``relation`` = "requires",
``weight`` = the skill's weight in the occupation, ``core``).

A career path maximises the product of its bridge scores (equivalently, minimises the sum of
``-log(score)``) over at most ``max_steps`` bridges, the direct one included. Intermediate steps use
the graph's edges (the top-k bridges of each occupation); the direct bridge always counts, whatever
its rank. Search is exact: a max-product dynamic programme over the dense (n, n) edge matrix.

Pure: numpy / networkx; ``export`` serialises to bytes in memory.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import networkx as nx
import numpy as np

from .passerelles import Passerelle, PasserelleIndex
from .ranking import top_k

FORMATS: tuple[str, ...] = ("graphml", "gexf", "json")
MAX_STEPS: int = 3


def bridge_graph(index: PasserelleIndex, *, k: int = 10, min_score: float = 0.0, skills: bool = False,
                 occupations: np.ndarray | None = None) -> nx.DiGraph:
    """Occupations as nodes, each with edges to its ``k`` best bridges at or above ``min_score``.

    ``occupations``: optional row indices to restrict the graph to (both ends), e.g. two sectors.
    Deterministic: nodes and edges are added in code order, ties broken by code.
    """
    n = len(index.codes)
    keep = np.ones(n, dtype=bool) if occupations is None else np.isin(np.arange(n), occupations)
    g = nx.DiGraph(name="passerelles", k=k, min_score=float(min_score))
    for row in np.flatnonzero(keep):
        g.add_node(index.codes[row], **_node_attrs(index, int(row)))
    for a in np.flatnonzero(keep):
        a = int(a)
        scores = np.asarray(index.bridges.scores_from(a), dtype=np.float32)
        mask = keep.copy()
        mask[a] = False
        if min_score > 0:
            mask &= scores >= np.float32(min_score)
        cross = index.cross_sector_mask(a)
        rows, vals = top_k(scores, mask, k)
        for b, s in zip(rows.tolist(), vals.tolist()):
            g.add_edge(index.codes[a], index.codes[b], weight=round(float(s), 6),
                       similarity=round(index.bridges.similarity(a, b), 6),
                       coverage=round(index.bridges.coverage(a, b), 6), cross_sector=bool(cross[b]),
                       relation="bridge")
    if skills:
        attach_skills(index, g)
    return g


def _node_attrs(index: PasserelleIndex, row: int) -> dict:
    return {"kind": "occupation", "label": str(index.labels[row]), "domain": str(index.domains[row] or ""),
            "sectors": "; ".join(index.sectors_of(row))}


def attach_skills(index: PasserelleIndex, g: nx.DiGraph) -> nx.DiGraph:
    """Add each occupation's skills as ``skill:<code>`` nodes with occupation -> skill edges."""
    rows = {code: i for i, code in enumerate(index.codes)}
    for code in [n for n, d in g.nodes(data=True) if d.get("kind") == "occupation"]:
        r = rows[code]
        lo, hi = index.raw.indptr[r], index.raw.indptr[r + 1]
        for t, w, c in zip(index.raw.indices[lo:hi].tolist(), index.raw.data[lo:hi].tolist(),
                           (index.core.data[lo:hi] > 0).tolist()):
            node = f"skill:{index.skill_codes[t]}"
            if node not in g:
                g.add_node(node, kind="skill", label=str(index.skill_labels[t]), skill_kind=str(index.skill_kinds[t]))
            g.add_edge(code, node, relation="requires", weight=round(float(w), 6), core=bool(c))
    return g


# ---- career paths ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CareerPath:
    """A path of at most ``MAX_STEPS`` bridges; ``score`` is the product of the step scores."""

    codes: tuple[str, ...]
    score: float
    steps: tuple[Passerelle, ...]

    def to_dict(self) -> dict:
        return {"codes": list(self.codes), "score": round(self.score, 6), "steps": [
            {"from": self.codes[i], **s.to_dict()} for i, s in enumerate(self.steps)]}


def edge_matrix(index: PasserelleIndex, graph: nx.DiGraph) -> np.ndarray:
    """(n, n) float32 of the graph's bridge edge weights (0 where no edge)."""
    rows = {code: i for i, code in enumerate(index.codes)}
    n = len(index.codes)
    out = np.zeros((n, n), dtype=np.float32)
    for a, b, d in graph.edges(data=True):
        if d.get("relation") == "bridge":
            out[rows[a], rows[b]] = d["weight"]
    return out


def best_paths(edges: np.ndarray, direct: np.ndarray, a: int, t: int, *, max_steps: int = MAX_STEPS,
               n_paths: int = 3) -> list[tuple[tuple[int, ...], float]]:
    """The ``n_paths`` best paths from row ``a`` to row ``t`` by product of scores (desc, then rows).

    Args:
        edges:  (n, n) float32 bridge scores of the graph's edges (0 = no edge): the steps of paths
                of 2 or 3 bridges
        direct: (n,) float32 score(a -> every b): the one-step path a -> t, whatever its rank
    One candidate per last intermediate occupation (with its best prefix), so alternatives differ.
    """
    if not 1 <= max_steps <= MAX_STEPS:
        raise ValueError(f"expected max_steps between 1 and {MAX_STEPS}, found {max_steps}")
    n = edges.shape[0]
    candidates: list[tuple[float, tuple[int, ...]]] = [(float(direct[t]), (a, t))]
    inner = np.ones(n, dtype=bool)
    inner[[a, t]] = False
    e = np.where(inner[None, :], edges, 0.0)  # no step lands on a or t before the end
    first = np.where(inner, edges[a], 0.0)  # (n,) score a -> m
    if max_steps >= 2:
        two = first * edges[:, t]
        for m in np.flatnonzero(two > 0):
            candidates.append((float(two[m]), (a, int(m), t)))
    if max_steps >= 3:
        prod = first[:, None] * e  # [m1, m2] = s(a, m1) s(m1, m2)
        np.fill_diagonal(prod, 0.0)
        m1 = np.argmax(prod, axis=0)  # best first stop for each second stop (lowest row on ties)
        reach = prod[m1, np.arange(n)] * edges[:, t]
        for m2 in np.flatnonzero(reach > 0):
            candidates.append((float(reach[m2]), (a, int(m1[m2]), int(m2), t)))
    candidates.sort(key=lambda c: (-c[0], len(c[1]), c[1]))
    seen, out = set(), []
    for score, path in candidates:
        if path not in seen:
            seen.add(path)
            out.append((path, score))
        if len(out) >= n_paths:
            break
    return out


def career_paths(index: PasserelleIndex, graph: nx.DiGraph, source: int, target: int, *,
                 max_steps: int = MAX_STEPS, n_paths: int = 3, edges: np.ndarray | None = None,
                 explain: bool = True) -> list[CareerPath]:
    """Best career paths ``source -> target`` (rows), each step an explained :class:`Passerelle`."""
    if source == target:
        raise ValueError("expected two different occupations for a career path")
    edges = edge_matrix(index, graph) if edges is None else edges
    direct = np.asarray(index.bridges.scores_from(source), dtype=np.float32)
    out = []
    for path, score in best_paths(edges, direct, source, target, max_steps=max_steps, n_paths=n_paths):
        steps = tuple(index.passerelle(path[i], path[i + 1], explain=explain) for i in range(len(path) - 1))
        out.append(CareerPath(codes=tuple(index.codes[p] for p in path), score=score, steps=steps))
    return out


# ---- communities and hubs ---------------------------------------------------------------------------
def communities(graph: nx.DiGraph, *, seed: int = 0, resolution: float = 1.0) -> list[list[str]]:
    """Louvain communities of the occupation nodes (undirected, weighted by score), largest first;
    each sorted by code, ties between communities broken by their first code."""
    occ = graph.subgraph([n for n, d in graph.nodes(data=True) if d.get("kind", "occupation") == "occupation"])
    und = nx.Graph()
    und.add_nodes_from(sorted(occ.nodes))
    for a, b, d in sorted(occ.edges(data=True)):
        w = d.get("weight", 1.0)
        if und.has_edge(a, b):
            und[a][b]["weight"] = max(und[a][b]["weight"], w)
        else:
            und.add_edge(a, b, weight=w)
    found = nx.community.louvain_communities(und, weight="weight", seed=seed, resolution=resolution)
    groups = [sorted(c) for c in found]
    return sorted(groups, key=lambda c: (-len(c), c[0]))


@dataclass(frozen=True)
class Hub:
    code: str
    label: str
    sectors: tuple[str, ...]
    cross_sector_bridges: int
    bridges: int
    mean_score: float

    def to_dict(self) -> dict:
        return {"occupation": self.code, "label": self.label, "sectors": list(self.sectors),
                "cross_sector_bridges": self.cross_sector_bridges, "bridges": self.bridges,
                "mean_score": round(self.mean_score, 4)}


def hubs(index: PasserelleIndex, graph: nx.DiGraph, top: int = 20) -> list[Hub]:
    """Occupations opening the most cross-sector bridges in the graph (out-edges to occupations
    sharing no sector with them); then by mean score of those bridges, then by code."""
    rows = {code: i for i, code in enumerate(index.codes)}
    out = []
    for code, d in graph.nodes(data=True):
        if d.get("kind", "occupation") != "occupation":
            continue
        edges = [(b, e) for _, b, e in graph.out_edges(code, data=True) if e.get("relation") == "bridge"]
        cross = [e["weight"] for _, e in edges if e.get("cross_sector")]
        if not cross:
            continue
        r = rows[code]
        out.append(Hub(code=code, label=str(index.labels[r]), sectors=index.sectors_of(r),
                       cross_sector_bridges=len(cross), bridges=len(edges), mean_score=float(np.mean(cross))))
    out.sort(key=lambda h: (-h.cross_sector_bridges, -h.mean_score, h.code))
    return out[:top]


# ---- export ---------------------------------------------------------------------------------------
def node_link(graph: nx.DiGraph) -> dict:
    """The node-link JSON form ({"directed", "multigraph", "graph", "nodes", "links"})."""
    return nx.node_link_data(graph, edges="links")


def export(graph: nx.DiGraph, fmt: str) -> bytes:
    """The graph as GraphML, GEXF or node-link JSON bytes (UTF-8), in memory."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(node_link(graph), ensure_ascii=False, sort_keys=True).encode("utf-8")
    buffer = io.BytesIO()
    clean = graph.copy()
    clean.graph = {k: v for k, v in graph.graph.items() if isinstance(v, (str, int, float, bool))}
    if fmt == "graphml":
        nx.write_graphml(clean, buffer, encoding="utf-8")
    else:
        nx.write_gexf(clean, buffer, encoding="utf-8")
    return buffer.getvalue()
