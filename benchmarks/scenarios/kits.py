"""Kit generation: the food <-> metallurgy bridge kit of full ROME v460, built and written as xlsx.

Ours: ``api.services.kits.build.build_kit`` on the served passerelles index (bridge model v2, explained skills,
common skills, hubs) then ``kit_export.render(kit, "xlsx")``. Baseline: what a federation analyst
would script by hand — scikit-learn cosine of the raw link rows between the two sectors, the 5
best targets per source, set-based shared/missing skills, and the same xlsx writer for one sheet.
Quick size: the embedded demo referential.

Work counters: ``bridges`` (rows of the kit's bridge table), ``pairs_scored`` (both directions).
"""

from __future__ import annotations

import io

import numpy as np
import polars as pl

from ..data import rome_dir
from ..harness import scenario

FOOD, METAL = "Industrie - Alimentaire", "Industrie - Métallurgie"


def _setup(quick: bool) -> dict:
    from api.settings import Settings
    from api.services.state import AppState

    source = "demo" if quick else f"rome:{rome_dir()}"
    state = AppState.from_settings(Settings(referentiel=source))
    state.passerelles  # build the served index once, as the server does at start-up
    return {"state": state}


def _ours(ctx: dict) -> bytes:
    from api.services.kits.export import render
    from api.services.kits.build import build_kit

    state = ctx["state"]
    state.passerelles.forget_support()  # time a kit nobody asked before (its own bridges still share the memo)
    ctx["kit"] = build_kit(state.referentiel, state.passerelles, FOOD, METAL)
    return render(ctx["kit"], "xlsx")


def _baseline(ctx: dict) -> bytes:
    import xlsxwriter
    from sklearn.metrics.pairwise import cosine_similarity

    r = ctx["state"].referentiel
    members = {s: sorted(set(r.sectors.filter(pl.col("sector") == s)["occupation"])) for s in (FOOD, METAL)}
    skills_of = {code: set(group["skill"]) for (code,), group in r.links.group_by("occupation")}
    rows = []
    for a_sector, b_sector in ((FOOD, METAL), (METAL, FOOD)):
        a_rows = [r.occupation_index[c] for c in members[a_sector]]
        b_rows = [r.occupation_index[c] for c in members[b_sector]]
        sims = cosine_similarity(r.matrix[a_rows], r.matrix[b_rows])
        for i, code in enumerate(members[a_sector]):
            for j in np.argsort(-sims[i], kind="stable")[:5]:
                target = members[b_sector][j]
                held, needed = skills_of.get(code, set()), skills_of.get(target, set())
                rows.append((code, target, float(sims[i, j]), len(held & needed), len(needed - held)))
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("bridges")
    for k, row in enumerate(rows):
        sheet.write_row(k, 0, row)
    book.close()
    return buffer.getvalue()


def _counters(ctx: dict) -> dict[str, float]:
    _ours(ctx)
    kit = ctx["kit"]
    return {"bridges": kit.bridges.height, "pairs_scored": kit.scores.height}


scenario(name="kit_food_metal_xlsx", ours=_ours, baseline=_baseline,
         baseline_name="sklearn cosine top-5 + set-based explanations + one xlsx sheet",
         target="interactive (< 5 s on ROME)", repeats=5, quick_repeats=3, counters=_counters)(_setup)
