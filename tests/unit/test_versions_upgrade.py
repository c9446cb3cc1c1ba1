"""`passerelles referentiel upgrade`: a store of synthetic seekers and offers carried across a synthetic
version change of the demo referential, in one transaction, with zero silent losses."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from api.cli import main
from api.storage.store import Store
from api.services.upgrade import UpgradeError, audit, stored_fingerprints, upgrade_store
from referentiels import Referentiel, generic
from referentiels.versions import diff

TABLES = ("occupations", "skills", "links", "titles", "sectors", "mobilities")


def _sub(frame: pl.DataFrame, columns: tuple[str, ...], old: str, new: str) -> pl.DataFrame:
    return frame.with_columns([pl.when(pl.col(c) == old).then(pl.lit(new)).otherwise(pl.col(c)).alias(c)
                               for c in columns if c in frame.columns])


def next_version(r: Referentiel) -> tuple[Referentiel, dict]:
    """The demo as a next version would have it: occupations renamed, removed, split, merged;
    skills renamed, removed, split. Returns (new, what changed)."""
    t = {name: getattr(r, name) for name in TABLES}
    codes = r.occupations["code"].to_list()
    renamed, removed, split, merge_a, merge_b = codes[0], codes[1], codes[2], codes[3], codes[4]
    occ_cols = {"occupations": ("code", "parent"), "links": ("occupation",), "titles": ("occupation",),
                "sectors": ("occupation",), "mobilities": ("occupation", "target")}
    # occupations
    for name, cols in occ_cols.items():
        t[name] = _sub(t[name], cols, renamed, "Z0001")
    t["occupations"] = t["occupations"].filter(pl.col("code") != removed)
    for name, cols in occ_cols.items():
        if name != "occupations":
            t[name] = t[name].filter(~pl.any_horizontal([pl.col(c) == removed for c in cols]))
    t["occupations"] = t["occupations"].with_columns(parent=pl.when(pl.col("parent") == removed).then(None)
                                                     .otherwise(pl.col("parent")))

    def halves(frame, owner_col, owner, item_col, a, b):
        items = sorted(frame.filter(pl.col(owner_col) == owner)[item_col].to_list())
        second = items[len(items) // 2:]
        return frame.with_columns(pl.when((pl.col(owner_col) == owner) & pl.col(item_col).is_in(second))
                                  .then(pl.lit(b)).when(pl.col(owner_col) == owner).then(pl.lit(a))
                                  .otherwise(pl.col(owner_col)).alias(owner_col))

    t["links"] = halves(t["links"], "occupation", split, "skill", "Z0002", "Z0003")
    t["titles"] = halves(t["titles"], "occupation", split, "title", "Z0002", "Z0003")
    row = t["occupations"].filter(pl.col("code") == split)
    t["occupations"] = pl.concat([t["occupations"].filter(pl.col("code") != split),
                                  row.with_columns(code=pl.lit("Z0002")),
                                  row.with_columns(code=pl.lit("Z0003"), label=pl.col("label") + " (spécialité)")])
    for name in ("sectors", "mobilities"):
        t[name] = _sub(t[name], occ_cols[name], split, "Z0002")
    for code in (merge_a, merge_b):
        for name, cols in occ_cols.items():
            t[name] = _sub(t[name], cols, code, "Z0004")
    t["occupations"] = t["occupations"].unique("code", keep="first", maintain_order=True)
    t["links"] = t["links"].group_by(["occupation", "skill"]).agg(pl.col("weight").max(), pl.col("core").any())
    t["titles"] = t["titles"].unique(["title", "occupation"])
    t["sectors"] = t["sectors"].group_by(["sector", "occupation"]).agg(pl.col("principal").any())
    t["mobilities"] = (t["mobilities"].filter(pl.col("occupation") != pl.col("target"))
                       .group_by(["occupation", "target"]).agg(pl.col("rank").min()))
    # skills: counted on the occupations left untouched
    untouched = set(codes[5:])
    counts = (r.links.filter(pl.col("occupation").is_in(list(untouched))).group_by("skill").len()
              .filter(pl.col("len") >= 4).sort(["len", "skill"], descending=[True, False])["skill"].to_list())
    s_renamed, s_removed, s_split = counts[0], counts[1], counts[2]
    t["skills"] = _sub(t["skills"], ("code",), s_renamed, "Z-S1")
    t["links"] = _sub(t["links"], ("skill",), s_renamed, "Z-S1")
    t["skills"] = t["skills"].filter(pl.col("code") != s_removed)
    t["links"] = t["links"].filter(pl.col("skill") != s_removed)
    t["links"] = halves(t["links"], "skill", s_split, "occupation", "Z-S2", "Z-S3")
    row = t["skills"].filter(pl.col("code") == s_split)
    t["skills"] = pl.concat([t["skills"].filter(pl.col("code") != s_split), row.with_columns(code=pl.lit("Z-S2")),
                             row.with_columns(code=pl.lit("Z-S3"), label=pl.col("label") + " (avancé)")])
    new = Referentiel.from_tables(name=r.name, version="next", source="test", **t)
    what = {"renamed": renamed, "removed": removed, "split": split, "merged": (merge_a, merge_b),
            "skill_renamed": s_renamed, "skill_removed": s_removed, "skill_split": s_split}
    return new, what


def population(r: Referentiel, what: dict, seed: int = 0, n_seekers: int = 300, n_offers: int = 120
               ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Synthetic seekers and offers drawn from the occupations' profiles (deterministic); the first
    ones sit on exactly the codes the version change touches."""
    rng = np.random.default_rng(seed)
    codes = r.occupations["code"].to_list()
    by_occ = dict(r.links.group_by("occupation").agg(pl.col("skill").sort()).iter_rows())
    skills = r.skills["code"].to_list()
    touched_skills = [what["skill_renamed"], what["skill_removed"], what["skill_split"]]
    forced = [what["renamed"], what["removed"], what["split"], *what["merged"]]
    seekers = []
    for i in range(n_seekers):
        occ = forced[i] if i < len(forced) else codes[int(rng.integers(len(codes)))]
        own = by_occ[occ]
        held = [own[j] for j in sorted(rng.choice(len(own), size=max(1, int(0.7 * len(own))), replace=False))]
        held += [skills[int(rng.integers(len(skills)))] for _ in range(2)]
        if i < 3 * len(touched_skills):
            held.append(touched_skills[i % len(touched_skills)])
        past = [codes[int(rng.integers(len(codes)))] for _ in range(int(rng.integers(0, 3)))]
        if i == len(forced):
            past = [what["removed"], what["renamed"]]
        seekers.append({"id": f"S{i:04d}", "skills": list(dict.fromkeys(held)), "occupation": occ,
                        "past_occupations": past, "consent": True})
    offers = []
    for i in range(n_offers):
        occ = forced[i] if i < len(forced) else codes[int(rng.integers(len(codes)))]
        own = by_occ[occ]
        picks = [own[j] for j in rng.choice(len(own), size=min(8, len(own)), replace=False)]
        must, desired = picks[:5], picks[5:]
        if i < len(touched_skills):
            must.append(touched_skills[i])
        offers.append({"id": f"O{i:04d}", "employer": f"E{i % 7}", "occupation": occ,
                       "must": list(dict.fromkeys(must)), "desired": desired})
    return pl.DataFrame(seekers), pl.DataFrame(offers)


@pytest.fixture()
def setup(demo, tmp_path):
    new, what = next_version(demo)
    seekers, offers = population(demo, what)
    store = Store(tmp_path / "store.sqlite3", referentiel=demo.fingerprint)
    store.upsert_many("seekers", seekers.slice(0, 250))
    store.upsert_many("offers", offers)
    store.referentiel = None  # rows written before records carried their referential
    store.upsert_many("seekers", seekers.slice(250))
    yield store, new, what, seekers, offers
    store.close()


def _field_codes(record: dict, field: str) -> list[str]:
    value = record.get(field)
    return ([value] if value else []) if isinstance(value, (str, type(None))) else list(value)


def test_upgrade_carries_every_code_or_lists_it_with_its_record(demo, setup):
    store, new, what, seekers, offers = setup
    assert stored_fingerprints(store) == {demo.fingerprint: 370, None: 50}
    before = {kind: {r["id"]: r for r in (store.get(kind, i) for i in frame["id"].to_list())}
              for kind, frame in (("seekers", seekers), ("offers", offers))}
    report = upgrade_store(store, new, old=demo)
    d = diff(demo, new)
    assert stored_fingerprints(store) == {new.fingerprint: 420}
    assert report.migrated == {"seekers": 300, "offers": 120} and report.records == report.migrated
    unmapped = {(u["kind"], u["id"], u["field"], u["code"]) for u in report.unmapped}
    fields = {"seekers": (("occupation", "occupation", True), ("past_occupations", "occupation", False),
                          ("skills", "skill", False)),
              "offers": (("occupation", "occupation", True), ("must", "skill", False), ("desired", "skill", False))}
    carried = lost = 0
    for kind, by_id in before.items():
        for id_, old_record in by_id.items():
            now = store.get(kind, id_)
            assert now["referentiel"] == new.fingerprint
            for field, what_kind, single in fields[kind]:
                mapping = d.mapping(what_kind)
                new_codes = set(_field_codes(now, field))
                for code in _field_codes(old_record, field):
                    targets = mapping[code]
                    if not targets:  # removed: listed with its record, never silently dropped
                        assert (kind, id_, field, code) in unmapped
                        lost += 1
                        continue
                    wanted = {targets[0].code} if single else {t.code for t in targets}
                    assert wanted <= new_codes, (kind, id_, field, code)
                    carried += 1
                known = new.occupation_index if what_kind == "occupation" else new.skill_index
                stale = {c for c in new_codes if c not in known}
                assert all((kind, id_, field, c) in unmapped for c in stale)  # an offer keeps its required code
    assert carried > 5000 and lost == len(unmapped) > 0
    # each kind of change reached the store
    seeker = store.get("seekers", "S0000")
    assert seeker["occupation"] == "Z0001"
    assert store.get("seekers", "S0001")["occupation"] is None  # its occupation was removed ...
    assert ("seekers", "S0001", "occupation", what["removed"]) in unmapped  # ... and that is reported
    assert store.get("offers", "O0001")["occupation"] == what["removed"]  # required: kept, reported
    assert store.get("seekers", "S0002")["occupation"] in {"Z0002", "Z0003"}
    assert {store.get("seekers", f"S000{i}")["occupation"] for i in (3, 4)} == {"Z0004"}
    split_holder = next(s for s in seekers.to_dicts() if what["skill_split"] in s["skills"])
    assert {"Z-S2", "Z-S3"} <= set(store.get("seekers", split_holder["id"])["skills"])
    # the audit keeps the old codes of every field that changed
    trail = audit(store, "seekers", "S0001")
    assert any(a["field"] == "occupation" and a["old"] == [what["removed"]] and a["unmapped"] == [what["removed"]]
               for a in trail)
    assert all(a["from_referentiel"] in (demo.fingerprint, None) and a["to_referentiel"] == new.fingerprint
               for a in audit(store))
    # a second upgrade has nothing to do
    again = upgrade_store(store, new, old=demo)
    assert again.migrated == {"seekers": 0, "offers": 0} and not again.unmapped


def test_the_pool_index_of_the_new_referential_reads_the_upgraded_store(demo, setup):
    from api.services.pool_service import Pool
    from matching import SkillSpace
    from matching.bridges import BridgeModel

    store, new, *_ = setup
    upgrade_store(store, new, old=demo)
    space = SkillSpace.from_referentiel(new)
    pool = Pool(store, new, space, BridgeModel.fit(space))
    assert len(pool.seekers) == 300 and len(pool.offers) == 120
    hits = pool.candidates_for_offer("O0000", k=5)  # offer on the renamed occupation
    assert hits and hits[0]["bridge"]["to"]["code"] == "Z0001"
    assert pool.offers_for_seeker("S0001", k=5) is not None  # the seeker whose occupation was removed


def test_a_referential_that_cannot_be_found_stops_the_upgrade_before_any_write(demo, setup, tmp_path):
    store, new, *_ = setup
    with pytest.raises(UpgradeError, match="--from"):
        upgrade_store(store, new, old=None, find=lambda fp: None)
    assert stored_fingerprints(store) == {demo.fingerprint: 370, None: 50}
    report = upgrade_store(store, new, old=demo, dry_run=True)
    assert report.migrated == {"seekers": 300, "offers": 120} and report.unmapped
    assert stored_fingerprints(store) == {demo.fingerprint: 370, None: 50}  # a dry run writes nothing
    assert audit(store) == []


def test_an_error_midway_leaves_the_store_as_it_was(demo, setup, monkeypatch):
    import api.services.upgrade as upgrade

    store, new, *_ = setup
    seq = store.seq
    calls = {"n": 0}
    real = upgrade.migrate_codes

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 500:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(upgrade, "migrate_codes", failing)
    with pytest.raises(RuntimeError):
        upgrade_store(store, new, old=demo)
    assert stored_fingerprints(store) == {demo.fingerprint: 370, None: 50} and store.seq == seq


def test_cli_upgrade_lists_unmapped_codes_with_their_records(demo, setup, tmp_path, capsys):
    store, new, what, *_ = setup
    path = store.path
    store.close()
    generic.write(new, tmp_path / "next")
    argv = ["referentiel", "upgrade", f"csv:{tmp_path / 'next'}", "--database", str(path), "--from", "demo"]
    assert main(argv + ["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and what["removed"] in out and "S0001" in out
    assert main(argv + ["--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["migrated"] == {"seekers": 300, "offers": 120}
    assert {(u["id"], u["code"]) for u in payload["unmapped"]} >= {("S0001", what["removed"]), ("O0001", what["removed"])}
    assert main(argv) == 0
    assert "nothing to migrate" in capsys.readouterr().out


def test_the_api_migrates_the_store_when_the_served_referential_changes(demo, setup, tmp_path, caplog):
    from api.http.app import create_app
    from api.settings import Settings
    from api.services.state import AppState

    store, new, what, *_ = setup
    path = store.path
    store.close()
    generic.write(new, tmp_path / "next")
    settings = Settings(referentiel=f"csv:{tmp_path / 'next'}", database=path, cache_dir=tmp_path / "cache")
    state = AppState.from_settings(settings)
    create_app(settings, state=state)
    with caplog.at_level("WARNING", logger="passerelles.upgrade"):
        pool = state.pool  # opening the store
    assert "migrated 370 stored records" in caplog.text and what["removed"] in caplog.text
    assert stored_fingerprints(pool.store) == {state.referentiel.fingerprint: 420}
    # the 50 unstamped rows are taken as the served referential's: the codes it lacks are listed
    unstamped = [f"S{i:04d}" for i in range(250, 300)]
    stale = [r for r in audit(pool.store, "seekers") if r["id"] in unstamped]
    assert stale and all(r["unmapped"] for r in stale)
    assert pool.store.get("seekers", "S0000")["occupation"] == "Z0001"
    assert len(pool.seekers) == 300
