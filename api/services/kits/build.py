"""Build a bridge kit: what a branch federation hands to another region for a pair of sectors.

    kit = build_kit(state, "Industrie - Alimentaire", "Industrie - Métallurgie", basins=["beauvais"])
    kit_export.write(kit, "xlsx", "kit.xlsx")

The bridges and the skills common to both sectors come from the passerelles index
(``matching.passerelles.PasserelleIndex.sector_pair_map``: the ``k_per_source`` best bridges of every
occupation of one sector toward the other, both directions). A kit adds, for each bridge, the
explained held, close and missing skills (issue 19: the common skills count only held ones; close
skills — related to one the source has, not held — are listed apart and stay in the gap), the
training plan that closes the gap when a catalogue is
given, and the target's tension in each chosen basin; and the sector pair's **hub occupations**:
those that the most retained bridges start from or lead to (ties by mean score, then code).
Everything is sorted, so the same inputs give the same kit; only ``generated_at`` differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from api.services.kits.export import Kit

PlanFn = Callable[[str, str], dict | None]
"""(source code, target code) -> {"trainings": [{id,title,organisation,hours,cost,covers}], "residual": [...]}."""
TensionFn = Callable[[str, Sequence[str]], pl.DataFrame]
"""(basin id, occupation codes) -> frame basin, basin_name, occupation, offers, seekers, tension."""

BRIDGE_SCHEMA = {
    "direction": pl.String, "source": pl.String, "source_label": pl.String, "target": pl.String,
    "target_label": pl.String, "score": pl.Float64, "viability": pl.String,
    "shared_skills": pl.List(pl.String), "close_skills": pl.List(pl.String), "missing_skills": pl.List(pl.String),
    "missing_core": pl.Int64,
    "plan_trainings": pl.List(pl.String), "plan_hours": pl.Float64, "plan_cost": pl.Float64,
    "residual_skills": pl.List(pl.String)}
PLAN_SCHEMA = {"source": pl.String, "target": pl.String, "step": pl.Int64, "training": pl.String,
               "title": pl.String, "organisation": pl.String, "hours": pl.Float64, "cost": pl.Float64,
               "covers": pl.List(pl.String), "session": pl.String, "start": pl.String, "places": pl.Int64,
               "places_left": pl.Int64}
TENSION_SCHEMA = {"basin": pl.String, "basin_name": pl.String, "occupation": pl.String, "label": pl.String,
                  "offers": pl.Int64, "seekers": pl.Int64, "tension": pl.Float64}
HUB_SCHEMA = {"occupation": pl.String, "label": pl.String, "sector": pl.String,
              "cross_sector_bridges": pl.Int64, "mean_score": pl.Float64}
ACCESS_SCHEMA = {"basin": pl.String, "basin_name": pl.String, "target": pl.String, "target_label": pl.String,
                 "source": pl.String, "source_label": pl.String, "score": pl.Float64, "missing_skills": pl.Int64,
                 "training": pl.String, "title": pl.String, "session": pl.String, "start": pl.String,
                 "places": pl.Int64, "places_left": pl.Int64, "city": pl.String, "distance_km": pl.Float64}
AccessFn = Callable[[str, str], dict]
"""(occupation code, basin id) -> ``TrainingService.access_routes``'s answer."""
ACCESS_TARGETS = 5
"""Hub occupations of the arrival sector whose access routes the kit lists, per basin."""


def _skill_text(item) -> str:
    return f"{item.label} [cœur]" if item.core else item.label


def _close_text(item) -> str:
    """A close skill with the source's skill it is close to (to check with the person)."""
    near = f" (proche de : {item.via['label']})" if item.via else ""
    return _skill_text(item) + near


def build_kit(
    referentiel,
    index,
    from_sector: str,
    to_sector: str,
    *,
    basins: Sequence[dict] = (),
    plan_for: PlanFn | None = None,
    tension_for: TensionFn | None = None,
    catalogue_name: str | None = None,
    access_for: AccessFn | None = None,
    k_per_source: int = 5,
    min_score: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> Kit:
    """The kit of ``from_sector`` <-> ``to_sector`` (exact sector names of the referential).

    ``index`` is a ``PasserelleIndex``; ``basins`` a list of {id, name}; ``plan_for`` and
    ``tension_for`` come from the training catalogue and the job basins when available;
    ``access_for`` (with basins) gives the access routes of the arrival sector's ``ACCESS_TARGETS``
    first hub occupations around each basin: one row per route and training of its plan, with the
    training's next session (the "Voies d'accès" sheet).
    Raises ``matching.passerelles.UnknownSector`` for a sector the referential does not have.
    """
    pair = index.sector_pair_map(from_sector, to_sector, k_per_source=k_per_source, min_score=min_score)
    from_sector, to_sector = pair.sector_a, pair.sector_b
    rows = pair.bridges.sort(["direction", "source", "score", "target"], descending=[False, False, True, False])
    row_of = referentiel.occupation_index

    tension = pl.DataFrame(schema=TENSION_SCHEMA)
    members = sorted(set(rows["source"].to_list()) | set(rows["target"].to_list()))
    if tension_for is not None and basins:
        frames = [tension_for(basin["id"], members) for basin in basins]
        tension = (pl.concat([f.select(list(TENSION_SCHEMA)).cast(TENSION_SCHEMA) for f in frames])
                   if frames else tension)
        tension = tension.sort(["basin", "occupation"])
    tension_of: dict[str, dict[str, float | None]] = {}
    for basin_name, occupation, value in tension.select("basin_name", "occupation", "tension").iter_rows():
        tension_of.setdefault(occupation, {})[basin_name] = value

    bridge_rows: list[dict[str, Any]] = []
    plan_rows: list[dict[str, Any]] = []
    total = rows.height
    for done, row in enumerate(rows.iter_rows(named=True), start=1):
        source, target = row["source"], row["target"]
        shared, close, missing = index.explain(row_of[source], row_of[target])
        plan = plan_for(source, target) if plan_for is not None else None
        trainings = (plan or {}).get("trainings", [])
        for step, training in enumerate(trainings, start=1):
            s = training.get("session") or {}
            plan_rows.append({
                "source": source, "target": target, "step": step, "training": str(training["id"]),
                "title": training.get("title", ""), "organisation": training.get("organisation"),
                "hours": training.get("hours"), "cost": training.get("cost"),
                "covers": [c["label"] if isinstance(c, dict) else str(c) for c in training.get("covers", [])],
                **_session_columns(s, training)})
        bridge_rows.append({
            "direction": "forward" if row["direction"].startswith(from_sector + " ->") else "backward",
            "source": source, "source_label": row["source_label"], "target": target,
            "target_label": row["target_label"], "score": row["score"], "viability": row["viability"],
            "shared_skills": [_skill_text(s) for s in shared],
            "close_skills": [_close_text(s) for s in close],
            "missing_skills": [_skill_text(s) for s in missing],
            "missing_core": row["close_core"] + row["missing_core"],
            "plan_trainings": [t.get("title", str(t["id"])) for t in trainings] if plan is not None else None,
            "plan_hours": float(sum(t.get("hours") or 0 for t in trainings)) if plan is not None else None,
            "plan_cost": float(sum(t.get("cost") or 0 for t in trainings)) if plan is not None else None,
            "residual_skills": ([r["label"] if isinstance(r, dict) else str(r) for r in plan.get("residual", [])]
                                if plan is not None else None),
            "tension": {b["name"]: tension_of.get(target, {}).get(b["name"]) for b in basins} or None,
        })
        if progress is not None:
            progress(done, total)

    bridges = _bridges_frame(bridge_rows, basins)
    plans = pl.DataFrame(plan_rows, schema=PLAN_SCHEMA).sort(["source", "target", "step"])
    common = pair.common_skills.select("skill", "label", "kind", "bridges", "share")
    close_common = pair.close_skills.select("skill", "label", "kind", "bridges", "share")
    hubs = _hubs(bridges, referentiel, from_sector, to_sector)
    scores = _all_pair_scores(index, referentiel, from_sector, to_sector)
    access = _access_routes(access_for, basins, hubs, to_sector)
    summary = {
        "from_sector": from_sector, "to_sector": to_sector,
        "basins": [{"id": str(b["id"]), "name": str(b["name"])} for b in basins],
        "referential": {"name": referentiel.name, "version": referentiel.version,
                        "source": referentiel.source, "fingerprint": referentiel.fingerprint},
        "generated_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "catalogue": catalogue_name,
        "counts": {
            "occupations_from": int(_members(referentiel, from_sector).size),
            "occupations_to": int(_members(referentiel, to_sector).size),
            "bridges_forward": int((bridges["direction"] == "forward").sum()),
            "bridges_backward": int((bridges["direction"] == "backward").sum()),
            "common_skills": common.height, "close_skills": close_common.height, "trainings_in_plans": plans.height,
        },
    }
    return Kit(summary=summary, bridges=bridges, common_skills=common, close_skills=close_common, hubs=hubs, plans=plans,
               tension=tension, scores=scores, access_routes=access)

def _access_routes(access_for: AccessFn | None, basins: Sequence[dict], hubs: pl.DataFrame,
                   to_sector: str) -> pl.DataFrame:
    """Rows of the "Voies d'accès" sheet: basin, target, route (source, score, missing skills) and each
    training of the route's plan near the basin with its next session (empty without basins)."""
    if access_for is None or not basins or hubs.height == 0:
        return pl.DataFrame(schema=ACCESS_SCHEMA)
    targets = hubs.filter(pl.col("sector") == to_sector)["occupation"].head(ACCESS_TARGETS).to_list()
    rows: list[dict[str, Any]] = []
    for basin in basins:
        for target in targets:
            body = access_for(target, str(basin["id"]))
            for route in body["routes"]:
                base = {"basin": str(basin["id"]), "basin_name": str(basin["name"]), "target": target,
                        "target_label": body["target"]["label"], "source": route["source"]["code"],
                        "source_label": route["source"]["label"], "score": route["score"],
                        "missing_skills": route["missing"]}
                if not route["trainings"]:
                    rows.append(base)
                for t in route["trainings"]:
                    s = t.get("session") or {}
                    rows.append({**base, "training": t["id"], "title": t["title"], **_session_columns(s, t),
                                 "city": s.get("city"), "distance_km": t.get("distance_km")})
    return pl.DataFrame(rows, schema=ACCESS_SCHEMA)


def _session_columns(session: dict, training: dict) -> dict[str, Any]:
    """The session a plan chose for a training, as kit columns: id, start, capacity (``places``) and
    ``places_left``, both as ``TrainingService`` gives them (``session_dict`` over
    ``TrainingService.places_left``: the capacity minus the places held by accepted pre-registrations,
    the one figure plans, access routes and ``GET /trainings/{id}`` show)."""
    return {"session": session.get("id"), "start": session.get("start") or training.get("next_start"),
            "places": session.get("places"), "places_left": session.get("places_left")}


def _bridges_frame(rows: list[dict], basins: Sequence[dict]) -> pl.DataFrame:
    """Bridge rows as a frame; ``tension`` is a struct with one field per basin (null without basins)."""
    tension = pl.Struct({b["name"]: pl.Float64 for b in basins}) if basins else pl.Null
    return pl.DataFrame(rows, schema={**BRIDGE_SCHEMA, "tension": tension})


def _members(referentiel, sector: str) -> np.ndarray:
    s = referentiel.sectors
    return np.array(sorted(set(s.filter(pl.col("sector") == sector)["occupation"].to_list())), dtype=object)


def _hubs(bridges: pl.DataFrame, referentiel, from_sector: str, to_sector: str, top: int = 15) -> pl.DataFrame:
    """Occupations touching the most retained bridges (as source or target), then mean score, code."""
    if bridges.height == 0:
        return pl.DataFrame(schema=HUB_SCHEMA)
    ends = pl.concat([
        bridges.select(pl.col("source").alias("occupation"), "score",
                       pl.when(pl.col("direction") == "forward").then(pl.lit(from_sector))
                       .otherwise(pl.lit(to_sector)).alias("sector")),
        bridges.select(pl.col("target").alias("occupation"), "score",
                       pl.when(pl.col("direction") == "forward").then(pl.lit(to_sector))
                       .otherwise(pl.lit(from_sector)).alias("sector")),
    ])
    labels = referentiel.occupations.select(pl.col("code").alias("occupation"), "label")
    counted = (ends.group_by("occupation")
               .agg(pl.len().alias("cross_sector_bridges"), pl.col("score").mean().round(4).alias("mean_score"),
                    pl.col("sector").first())
               .join(labels, on="occupation", how="left")
               .select(list(HUB_SCHEMA)).cast(HUB_SCHEMA))
    return counted.sort(["cross_sector_bridges", "mean_score", "occupation"],
                        descending=[True, True, False]).head(top)


def _all_pair_scores(index, referentiel, from_sector: str, to_sector: str) -> pl.DataFrame:
    """Bridge score of every (source, target) pair between the two sectors, both directions."""
    a, b = _members(referentiel, from_sector), _members(referentiel, to_sector)
    row = referentiel.occupation_index
    out = []
    for direction, sources, targets in (("forward", a, b), ("backward", b, a)):
        cols = np.array([row[c] for c in targets], dtype=np.int64)
        for code in sources:
            scores = np.asarray(index.bridges.scores_from(row[code]), dtype=np.float64)[cols]
            out.extend({"direction": direction, "source": code, "target": t, "score": round(float(s), 4)}
                       for t, s in zip(targets, scores) if t != code)
    return pl.DataFrame(out, schema={"direction": pl.String, "source": pl.String, "target": pl.String,
                                     "score": pl.Float64})
