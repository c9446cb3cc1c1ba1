"""Draw the (source skill, target skill) pairs of benchmarks/labels/held_claims.csv (issue 19).

The pairs are the "shared through a related skill" claims (``via``) of the bridges as explained
before issue 19: for every ROME occupation, its 5 best bridges (served score, official mobilities
learned), each target skill that the source does not hold exactly but supports through the soft
kernel (``BridgeModel.related`` >= 0.5). Distinct (via skill, target skill) pairs are stratified by
today's similarity and drawn with a fixed seed:

    stratum                                                    batch 1   batch 2
    group  similarity exactly 0.600 (the macro-competence alone)     160       100
    high   similarity >= 0.75 (label words alike)                    150       100
    mid    similarity in [0.5, 0.75), not 0.600                      130       100

Batch 3 (160 pairs, seed 21, ``draw_batch_3``) is of another kind: drawn among the claims that the
relation of commit 8ea476f called *held* and whose hash puts them in the **dev** half only, to
measure the precision of *held* on the dev half (batches 1-2 gave it 38 held claims, none wrong:
nothing to design on). The held-out half is untouched by it. Batch 4 (100 pairs, seed 22) was drawn the same way among
the claims the relation of commit 6f77e51 held (after the rules designed on batch 3), not drawn
before: a fresh check of the dev precision. Batch 5 (130 pairs, seed 23) the same way among the claims
the relation of commit 93d30df held (``RELATION_VERSION`` 3), batches 1-4 counted as drawn; the pool of
claims it was drawn from had 50,233 pairs then (the served ranking had moved since batches 1-2's
50,850). ``main`` keeps the rows of batches 3, 4 and 5 as they are.

Each pair goes to the dev or the held-out half by a hash of its two skill codes (``split_of``),
so a pair keeps its half whatever else is drawn. The labels were written by hand afterwards
(README.md says the rule); this script only draws the pairs and keeps existing labels:

    PYTHONPATH=. python benchmarks/labels/sample_held_claims.py rome:../shared/data/rome-v460
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "held_claims.csv"
BATCHES = {1: (19, {"group": 160, "high": 150, "mid": 130}),
           2: (20, {"group": 100, "high": 100, "mid": 100})}
"""batch -> (seed, pairs per stratum). Batch 2 was drawn later, the same way, among the claims
batch 1 had not drawn, to measure the relation on more pairs (README.md says why)."""
FIELDS = ["source_code", "source_label", "source_kind", "target_code", "target_label", "target_kind",
          "core", "similarity", "stratum", "batch", "label", "split"]


def split_of(source_code: str, target_code: str) -> str:
    """'dev' or 'test' from the first byte of sha256("source>target") (even: dev)."""
    return "dev" if hashlib.sha256(f"{source_code}>{target_code}".encode()).digest()[0] % 2 == 0 else "test"


def stratum_of(similarity: float) -> str:
    if abs(similarity - 0.6) < 5e-4:
        return "group"
    return "high" if similarity >= 0.75 else "mid"


def claims(source: str) -> list[dict]:
    """Every (via, target) claim of the explanations as they were before issue 19: for each target
    skill not held exactly, the source skill the soft kernel relates most (>= 0.5; lowest code on
    ties) — what ``PasserelleIndex`` then showed as "shared via". Computed from the kernel itself,
    so the sample does not move with the explanations' new three kinds."""
    import referentiels
    from matching.bridges import BridgeModel
    from matching.passerelles import RELATED_MIN, PasserelleIndex
    from matching.space import SkillSpace

    r = referentiels.load(source)
    space = SkillSpace.from_referentiel(r)
    model = BridgeModel.from_referentiel(r, space)
    index = PasserelleIndex.fit(r, space, model, relation=None)
    codes, labels, kinds = r.skills["code"].to_list(), r.skills["label"].to_list(), r.skills["kind"].to_list()
    raw, core = space.raw, space.core
    seen: dict[tuple[str, str], dict] = {}
    for a in range(len(index.codes)):
        held = raw.indices[raw.indptr[a]:raw.indptr[a + 1]]
        for b in index.top(a, 5)[0].tolist():
            lo, hi = raw.indptr[b], raw.indptr[b + 1]
            need = raw.indices[lo:hi]
            is_core = core.data[lo:hi] > 0
            order = np.lexsort((need, -raw.data[lo:hi], ~is_core))
            need, is_core = need[order], is_core[order]
            rest = ~np.isin(need, held)
            if not rest.any() or not len(held):
                continue
            kernel = model.related(need[rest], held)
            best = np.argmax(kernel, axis=1)
            value = kernel[np.arange(len(best)), best]
            for t, c, h, v in zip(need[rest].tolist(), is_core[rest].tolist(), held[best].tolist(), value.tolist()):
                key = (codes[h], codes[t])
                if v >= RELATED_MIN and key not in seen:
                    seen[key] = {"source_code": codes[h], "source_label": labels[h], "source_kind": kinds[h],
                                 "target_code": codes[t], "target_label": labels[t], "target_kind": kinds[t],
                                 "core": int(c), "similarity": f"{round(v, 3):.3f}"}
    return [seen[k] for k in sorted(seen)]


def draw_batch_3(source: str, rows: list[dict], drawn: set[tuple[str, str]], size: int = 160, seed: int = 21,
                 batch: int = 3) -> list[dict]:
    """Batch 3: ``size`` claims the skill relation *holds* (matching.relation at commit 8ea476f: run
    this from that commit to draw the same pairs), in the dev half only, not drawn before. Batch 4:
    the same with size 100, seed 22, ``batch=4``, from commit 6f77e51, batch 3 counted as drawn."""
    import referentiels
    from matching.relation import SkillRelation
    from matching.space import SkillSpace

    r = referentiels.load(source)
    relation = SkillRelation.from_referentiel(r, SkillSpace.from_referentiel(r))
    col = {c: i for i, c in enumerate(r.skill_codes)}
    pool = sorted((x for x in rows if split_of(x["source_code"], x["target_code"]) == "dev"
                   and (x["source_code"], x["target_code"]) not in drawn), key=lambda x: (x["source_code"], x["target_code"]))
    held = relation.holds(np.array([col[x["target_code"]] for x in pool]), np.array([col[x["source_code"]] for x in pool]))
    pool = [x for x, h in zip(pool, held.tolist()) if h]
    take = np.random.default_rng(seed).choice(len(pool), size=min(size, len(pool)), replace=False)
    return [dict(pool[i], stratum=stratum_of(float(pool[i]["similarity"])), batch=batch, split="dev")
            for i in sorted(take.tolist())]


def main(source: str) -> None:
    rows = claims(source)
    old = {}
    kept: list[dict] = []
    if OUT.exists():
        with OUT.open(encoding="utf-8") as f:
            for r in csv.DictReader(f):
                old[(r["source_code"], r["target_code"])] = r["label"]
                if r["batch"] in ("3", "4", "5"):
                    kept.append(r)
    picked = []
    drawn: set[tuple[str, str]] = set()
    for batch, (seed, strata) in BATCHES.items():
        rng = np.random.default_rng(seed)
        for name, size in strata.items():
            pool = [r for r in rows if stratum_of(float(r["similarity"])) == name
                    and (r["source_code"], r["target_code"]) not in drawn]
            take = rng.choice(len(pool), size=min(size, len(pool)), replace=False)
            for i in sorted(take.tolist()):
                row = dict(pool[i], stratum=name, batch=batch,
                           split=split_of(pool[i]["source_code"], pool[i]["target_code"]))
                row["label"] = old.get((row["source_code"], row["target_code"]), "")
                drawn.add((row["source_code"], row["target_code"]))
                picked.append(row)
    picked += kept
    print(f"{len(rows)} distinct claims; drew {len(picked) - len(kept)}, kept {len(kept)} of batches 3-5", file=sys.stderr)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(picked)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "rome:../shared/data/rome-v460")
