"""An LHEO offer as a catalogue: skills derived with evidence, sessions as data, plans that choose sessions."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import referentiels
from matching.gaps import TrainingIndex, greedy_cover, occupation_need, skill_gap
from matching.normalise import SkillNormaliser
from matching.space import SkillSpace
from matching.training_skills import derive_teaching, explain, phrases
from referentiels.lheo import lheo_bytes, read_lheo
from referentiels.trainings import demo_trainings, from_lheo, lheo_frames

DATA = Path(__file__).resolve().parent.parent / "data" / "lheo"
BEAUVAIS = (49.4295, 2.0807)
SAINT_QUENTIN = (49.8465, 3.2876)


@pytest.fixture(scope="module")
def world():
    r = referentiels.load("demo")
    normaliser = SkillNormaliser.fit(r)
    offer = read_lheo(DATA / "valid-2.3.xml")
    t = offer.trainings
    teaching = derive_teaching(r, t["occupations"].to_list(), t.select("objective", "content").to_dicts(), normaliser)
    catalogue = from_lheo(offer, r, teaching.skills, teaching.evidence_json)
    index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())
    return r, normaliser, offer, teaching, catalogue, index


def test_phrases_of_a_text():
    text = "- Lire un plan\n- Souder : régler un poste de soudage; Contrôler.\n2) Meuler un cordon. Fin"
    assert phrases(text) == ["Lire un plan", "régler un poste de soudage", "Meuler un cordon"]
    assert phrases(None) == [] and phrases("") == []


def test_skills_are_derived_with_their_evidence(world):
    r, _, offer, teaching, catalogue, _ = world
    bvs = offer.trainings["id"].to_list().index("AF-SOUD-BVS")
    core = {s["code"] for s in r.occupation("H2913")["skills"] if s["core"]}
    evidence = teaching.evidence(bvs, r)
    assert core <= {e["skill"] for e in evidence if e["via"] == "rome" and e["occupation"] == "H2913"}
    text = {(e["skill"], e["phrase"]) for e in evidence if e["via"] == "text"}
    assert ("DS0153", "Lire un plan ou un schéma technique") in text  # not a core skill of H2913: from the content
    assert ("DS0123", "appliquer les consignes de sécurité du site") in text
    assert all(e["score"] >= 0.75 for e in evidence if e["via"] == "text")
    # every claimed skill has evidence, and the catalogue carries it
    for i, skills in enumerate(teaching.skills):
        assert set(skills) == {e["skill"] for e in teaching.evidence(i, r)}
    stored = json.loads(catalogue.frame["evidence"][bvs])  # the text evidence; ROME's follows from the codes
    assert stored == [e for e in evidence if e["via"] == "text"]
    assert explain(r, catalogue.frame["occupations"][bvs].to_list(), catalogue.frame["evidence"][bvs]) == evidence
    assert set(catalogue.frame["skills"][bvs]) == set(teaching.skills[bvs])


def test_rome_only_without_normaliser_and_unknown_codes_ignored(world):
    r = world[0]
    teaching = derive_teaching(r, [["H2913", "Z9999"], []], [{"objective": "Souder en toutes positions"}, {}], None)
    assert {e["via"] for e in teaching.evidence(0, r)} == {"rome"}
    assert teaching.skills[1] == [] and teaching.evidence(1, r) == []


def test_catalogue_rows_places_and_sessions(world):
    _, _, _, _, catalogue, _ = world
    f = {r["id"]: r for r in catalogue.frame.to_dicts()}
    assert f["AF-SOUD-BVS"]["basin"] == "beauvais" and f["AF-SOUD-STQ"]["basin"] == "saint-quentin"
    assert f["AF-SOUD-BVS"]["places"] == 20 and f["AF-SOUD-BVS"]["funder"].endswith("Conseil régional")
    assert f["AF-SOUD-BVS"]["start_dates"] == [date(2025, 1, 6), date(2027, 3, 1), date(2027, 9, 1)]
    assert f["AF-QUAL-DIST"]["remote"] and f["AF-QUAL-DIST"]["lat"] is None
    s = {r["id"]: r for r in catalogue.session_frame().to_dicts()}
    assert s["SE-STQ-27"]["places"] == 10  # the organisation's own capacity
    assert s["AF-SOUD-STQ-S2"]["places"] == 6  # else the action's financed places
    assert s["SE-BVS-2703"]["places"] == 20 and s["SE-QUAL-27"]["places"] is None
    assert (s["SE-BVS-2703"]["city"], s["SE-BVS-2703"]["lat"]) == ("Beauvais", 49.4295)


def test_a_place_known_by_its_postcode_only_is_put_at_its_basin(world):
    r = world[0]
    xml = (DATA / "valid-2.3.xml").read_text(encoding="utf-8")
    xml = xml.replace("<latitude>49.4295</latitude>", "").replace("<longitude>2.0807</longitude>", "")
    xml = xml.replace("<geolocalisation>\n                \n                \n              </geolocalisation>", "")
    offer = read_lheo(xml.encode())
    row = offer.trainings.filter(pl.col("id") == "AF-SOUD-BVS").row(0, named=True)
    assert row["lat"] is None and row["postcode"] == "60000"
    catalogue = from_lheo(offer, r, [[]] * offer.trainings.height)
    bvs = catalogue.frame.filter(pl.col("id") == "AF-SOUD-BVS").row(0, named=True)
    assert bvs["basin"] == "beauvais" and bvs["lat"] == pytest.approx(49.4295)


def _ids(catalogue, rows):
    s = catalogue.session_frame()["id"].to_list()
    return [None if k < 0 else s[k] for k in rows]


def test_sessions_chosen_by_date_state_and_places(world):
    _, _, _, _, catalogue, index = world
    rows = np.arange(3)  # BVS (fixed dates), STQ (permanent entry), QUAL (at a distance, permanent)
    _, best = index.choose_sessions(rows, today=date(2027, 1, 15))
    # 2501 is past and closed, NC is suspended: the next one; STQ's session runs and can be joined
    assert _ids(catalogue, best) == ["SE-BVS-2703", "SE-STQ-27", "SE-QUAL-27"]
    _, best = index.choose_sessions(rows, today=date(2027, 4, 1))
    assert _ids(catalogue, best) == ["SE-BVS-2709", "SE-STQ-27", "SE-QUAL-27"]
    full = index.session_places.copy()
    full[catalogue.session_frame()["id"].to_list().index("SE-BVS-2703")] = 0  # no place left
    _, best = index.choose_sessions(rows, today=date(2027, 1, 15), places_left=full)
    assert _ids(catalogue, best)[0] == "SE-BVS-2709"
    _, best = index.choose_sessions(rows, today=date(2027, 4, 1), latest=date(2027, 6, 30))
    assert _ids(catalogue, best)[0] is None  # the next fixed session starts in September
    assert not index.eligible(rows, today=date(2027, 4, 1), latest=date(2027, 6, 30))[0]
    _, best = index.choose_sessions(rows, today=date(2029, 1, 1))
    assert _ids(catalogue, best) == [None, None, None]


def test_plan_chooses_a_training_and_its_session_near_the_person(world):
    r, _, _, _, catalogue, index = world
    space = SkillSpace.from_referentiel(r)
    b = r.occupation_row("H2913")
    gap = skill_gap(*occupation_need(space.raw, space.core, b), held=np.zeros(0, np.int64))
    ids = catalogue.frame["id"].to_list()
    near_bvs = index.plan(gap.missing, gap.missing_weight, lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50,
                          today=date(2027, 1, 15))
    chosen = dict(zip([ids[t] for t in near_bvs.trainings], _ids(catalogue, near_bvs.sessions)))
    # the welding training near Beauvais with its next session; the remote one (35 h) covers measuring
    assert chosen == {"AF-QUAL-DIST": "SE-QUAL-27", "AF-SOUD-BVS": "SE-BVS-2703"}
    near_stq = index.plan(gap.missing, gap.missing_weight, lat=SAINT_QUENTIN[0], lon=SAINT_QUENTIN[1], radius_km=50,
                          today=date(2027, 1, 15))
    chosen = dict(zip([ids[t] for t in near_stq.trainings], _ids(catalogue, near_stq.sessions)))
    assert chosen == {"AF-QUAL-DIST": "SE-QUAL-27", "AF-SOUD-STQ": "SE-STQ-27"}
    later = index.plan(gap.missing, gap.missing_weight, lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50,
                       today=date(2029, 1, 1))
    assert later.eligible == 0 or "AF-SOUD-BVS" not in [ids[t] for t in later.trainings]


def test_nearer_training_wins_a_tie():
    a = np.array([[True, True], [True, True], [True, False]])
    w = np.array([1.0, 1.0])
    assert greedy_cover(a, w, np.array([10.0, 10.0, 1.0]), distance=np.array([30.0, 5.0, 1.0]))[0] == 1
    assert greedy_cover(a, w, np.array([10.0, 10.0, 1.0]))[0] == 0


def test_csv_catalogue_plans_are_unchanged():
    r = referentiels.load("demo")
    catalogue = demo_trainings(r)
    arrays = catalogue.arrays()
    assert arrays["session_indptr"][-1] == 0 and catalogue.sessions is None
    index = TrainingIndex.fit(catalogue.teaches, **arrays)
    old = TrainingIndex.fit(catalogue.teaches, **{k: v for k, v in arrays.items()
                                                  if not k.startswith("session") and k != "permanent"})
    mask = dict(lat=BEAUVAIS[0], lon=BEAUVAIS[1], radius_km=50, earliest=date(2026, 1, 1), latest=date(2026, 6, 30))
    assert np.array_equal(index.eligible(**mask), old.eligible(**mask))


def test_extend_replaces_trainings_with_their_sessions(world):
    r, _, offer, teaching, catalogue, _ = world
    demo = demo_trainings(r)
    merged = demo.extend(catalogue)
    assert len(merged) == len(demo) + 3 and merged.sessions.height == 7
    smaller = read_lheo(lheo_bytes(offer.trainings.head(1), offer.sessions.head(2)))
    again = merged.extend(from_lheo(smaller, r, teaching.skills[:1], teaching.evidence_json[:1]))
    assert len(again) == len(merged)
    assert again.sessions.filter(pl.col("training") == "AF-SOUD-BVS").height == 2


def test_catalogue_export_gives_back_what_was_read(world):
    _, _, offer, _, catalogue, _ = world
    trainings, sessions = lheo_frames(catalogue)
    again = read_lheo(lheo_bytes(trainings, sessions), mode="all")
    assert again.trainings.drop("line").equals(offer.trainings.drop("line"))
    assert again.sessions.drop("line").equals(offer.sessions.drop("line"))


def test_csv_catalogue_exports_to_lheo_text(world):
    r = world[0]
    demo = demo_trainings(r)
    labels = dict(zip(r.skills["code"].to_list(), r.skills["label"].to_list()))
    trainings, sessions = lheo_frames(demo, labels)
    data = lheo_bytes(trainings, sessions)
    assert data.count(b"<action ") == len(demo) and b"Comp\xc3\xa9tences vis\xc3\xa9es" in data


# ---- the session choice against a plain reference -----------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from matching.gaps import UNKNOWN_END, UNKNOWN_START, day_number  # noqa: E402

_session = st.tuples(st.one_of(st.none(), st.integers(0, 60)), st.one_of(st.none(), st.integers(0, 60)),
                     st.booleans(), st.sampled_from([float("nan"), 0.0, 3.0]))


def _reference(sessions, permanent, lo, hi):
    """The rule of choose_sessions written plainly: the fitting session with the smallest (when, row)."""
    best = None
    for row, (s0, s1, open_, places) in enumerate(sessions):
        if not open_ or (places == places and places <= 0):
            continue
        if s0 is not None and s1 is not None and s1 < s0:
            continue
        a = UNKNOWN_START if s0 is None else s0
        b = UNKNOWN_END if s1 is None else s1
        if permanent:
            fits = b >= lo and a <= hi
            when = UNKNOWN_END if s0 is None else max(a, lo)
        else:
            fits = (lo <= a <= hi) if s0 is not None else b >= lo
            when = UNKNOWN_END if s0 is None else a
        if fits and (best is None or (when, row) < best[0]):
            best = ((when, row), row)
    return -1 if best is None else best[1]


@settings(max_examples=80, deadline=None)
@given(trainings=st.lists(st.tuples(st.lists(_session, max_size=5), st.booleans()), min_size=1, max_size=4),
       today=st.one_of(st.none(), st.integers(0, 60)), latest=st.one_of(st.none(), st.integers(0, 60)))
def test_session_choice_matches_the_plain_rule(trainings, today, latest):
    import scipy.sparse as sp

    base = date(2027, 1, 1)
    offset = day_number(base)
    rows = [(s0, s1, o, p) if s0 is None or s1 is None or s1 >= s0 else (s0, s0, o, p)
            for sessions, _ in trainings for (s0, s1, o, p) in sessions]
    counts = [len(sessions) for sessions, _ in trainings]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n = len(trainings)
    index = TrainingIndex.fit(
        sp.csr_array((n, 1), dtype=np.float32), hours=np.ones(n),
        permanent=np.array([p for _, p in trainings]), session_indptr=indptr,
        session_start=np.array([UNKNOWN_START if s0 is None else s0 + offset for s0, _, _, _ in rows], np.int32),
        session_end=np.array([UNKNOWN_END if s1 is None else s1 + offset for _, s1, _, _ in rows], np.int32),
        session_open=np.array([o for _, _, o, _ in rows], bool),
        session_places=np.array([p for _, _, _, p in rows], np.float64))
    from datetime import timedelta

    has, best = index.choose_sessions(np.arange(n), today=None if today is None else base + timedelta(days=today),
                                      latest=None if latest is None else base + timedelta(days=latest))
    lo = UNKNOWN_START if today is None else today + offset
    hi = UNKNOWN_END if latest is None else latest + offset
    for t, (sessions, permanent) in enumerate(trainings):
        shifted = [(None if s0 is None else s0 + offset, None if s1 is None else s1 + offset, o, p)
                   for (s0, s1, o, p) in rows[indptr[t]:indptr[t + 1]]]
        expected = _reference(shifted, permanent, lo, hi)
        assert has[t] == bool(sessions)
        assert best[t] == (-1 if expected < 0 else indptr[t] + expected)


@pytest.mark.parametrize("batch_actions", [1, 2])
def test_an_import_in_batches_gives_the_catalogue_of_one_read(world, batch_actions):
    """LheoImport (batches of whole formations, phrases matched once through a cache) gives exactly
    the catalogue of read_lheo + derive_teaching + from_lheo over the whole file."""
    from api.services.training_service import LheoImport

    r, normaliser, offer, teaching, catalogue, _ = world
    run = LheoImport(DATA / "valid-2.3.xml", r, normaliser, batch_actions=batch_actions)
    sizes = [len(part) for part in run.batches()]
    assert len(sizes) == 2 and sum(sizes) == len(catalogue)  # two formations: two batches
    again = run.catalogue()
    assert again.frame.equals(catalogue.frame) and again.sessions.equals(catalogue.sessions)
    assert again.offer.equals(catalogue.offer)
    assert (again.teaches != catalogue.teaches).nnz == 0
    assert run.phrases == teaching.phrases and run.matched == teaching.matched
    assert run.summary()["rome"] == offer.summary()["rome"]


def test_one_trainings_session_rows_are_its_rows_of_the_session_frame(world):
    """``session_order`` + ``session_rows`` (what GET /trainings/{id} and the plans read, once per
    catalogue) give exactly ``session_frame()``'s rows, in its order (row, then start with unknown
    last, then id), for each training alone, whatever the order the sessions were stored in."""
    r, _, _, _, lheo, _ = world
    demo = demo_trainings(r)  # trainings without sessions before the LHEO ones
    shuffled = pl.concat([lheo.sessions.reverse(), lheo.sessions.head(2).with_columns(  # ties on start
        pl.col("id") + "-bis", pl.col("start").reverse())])
    catalogue = replace(demo.extend(lheo), sessions=shuffled)
    index = TrainingIndex.fit(catalogue.teaches, **catalogue.arrays())
    full = catalogue.session_frame()
    order = catalogue.session_order()
    assert full.height == len(order) == shuffled.height and full["start"].null_count() >= 1
    assert catalogue.session_rows(order, full["row"].to_numpy()).equals(full)
    indptr = index.session_indptr
    for i in np.flatnonzero(np.diff(indptr)).tolist() + [0]:
        mine = catalogue.session_rows(order[indptr[i]:indptr[i + 1]], np.full(indptr[i + 1] - indptr[i], i))
        assert mine.equals(full.filter(pl.col("row") == i)), catalogue.ids[i]


def test_a_catalogue_without_its_texts_keeps_what_plans_and_search_read(world):
    """``without_texts``: the LHEO trainings' evidence and offer columns (but ``id``) dropped, every
    other column, the sessions, the teaches matrix and the planner's arrays unchanged; a catalogue
    holding its texts, extended by one without, loses them too (they are read where the other's are)."""
    r, _, _, _, catalogue, _ = world
    lean = catalogue.without_texts()
    assert lean.texts_stored and not catalogue.texts_stored and lean.without_texts() is lean
    assert lean.offer.columns == ["id"] and lean.offer["id"].to_list() == catalogue.offer["id"].to_list()
    assert lean.frame["evidence"].is_null().all() and catalogue.frame["evidence"].is_not_null().all()
    assert lean.frame.drop("evidence").equals(catalogue.frame.drop("evidence"))
    assert lean.sessions.equals(catalogue.sessions) and (lean.teaches != catalogue.teaches).nnz == 0
    a, b = lean.arrays(), catalogue.arrays()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    demo = demo_trainings(r)  # CSV trainings keep their evidence
    mixed = demo.extend(lean)
    assert mixed.texts_stored and mixed.offer.columns == ["id"]
    assert mixed.frame.filter(pl.col("id").is_in(demo.frame["id"].implode()))["evidence"].equals(demo.frame["evidence"])
    empty = replace(lean, frame=lean.frame.head(0), offer=lean.offer.head(0), teaches=lean.teaches[:0],
                    sessions=lean.sessions.head(0))
    held = catalogue.extend(empty)
    assert held.texts_stored and held.offer.columns == ["id"] and held.frame["evidence"].is_null().all()
