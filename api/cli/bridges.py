"""Career-bridge commands: ``passerelles bridges CODE``, ``sector-map A B``, ``paths FROM TO``,
``graph export|hubs|communities`` and ``evaluate SOURCE``.

Registered on :mod:`api.cli.root` when that module imports this one (``COMMAND_MODULES``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

import referentiels

from api.cli.common import SourceOption, emit_json, fail

app = typer.Typer()

graph_app = typer.Typer(help="The occupation graph: export it, list its hubs and communities.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")

KOption = Annotated[int, typer.Option("-k", "--k", min=1, help="Number of bridges.")]
SectorsOption = Annotated[Optional[list[str]], typer.Option("--sector", "-s", help="Target sector (repeatable).")]
MinScoreOption = Annotated[float, typer.Option("--min-score", min=0.0, max=1.0, help="Lowest bridge score kept.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@dataclass
class Engine:
    referentiel: object
    space: object
    bridges: object
    index: object


def engine(source: str | None, *, labels: bool = True) -> Engine:
    """Load a referential and build what the bridge commands need (space, bridges, labels)."""
    from matching.passerelles import PasserelleIndex
    from matching.space import SkillSpace

    from api.storage import bridges_cache

    from matching.relation import SkillRelation

    r = referentiels.load(source or "demo")
    space = SkillSpace.from_referentiel(r)
    bridges = bridges_cache.bridges(r, space)
    relation = SkillRelation.from_referentiel(r, space)
    labeller = (bridges_cache.labeller(r, bridges, space, relation=relation)
                if labels and r.n_occupations >= 3 else None)
    return Engine(r, space, bridges, PasserelleIndex.fit(r, space, bridges, labeller=labeller, relation=relation))


def row_of(e: Engine, code: str) -> int:
    r = e.referentiel
    if code in r.occupation_index:
        return r.occupation_index[code]
    from api.services.suggest import CodeSuggester

    near = CodeSuggester(r.occupations["code"].to_list(), r.occupations["label"].to_list()).suggest(code, 3)
    hint = (" Did you mean " + ", ".join(f"{s['code']} ({s['label']})" for s in near) + "?") if near else ""
    fail(f"unknown occupation code {code!r}.{hint}")


def _sector_guard(call):
    from matching.passerelles import UnknownSector

    try:
        return call()
    except UnknownSector as error:
        from rapidfuzz import fuzz, process, utils

        near = [n for n, _, _ in process.extract(error.sector, error.known, scorer=fuzz.WRatio,
                                                 processor=utils.default_process, limit=3)]
        fail(f"unknown sector {error.sector!r}; did you mean {', '.join(repr(n) for n in near)}? "
             "(`passerelles bridges --list-sectors` lists them)")


def _skills(items, limit: int, *, close: bool = False) -> str:
    """Labels (* = core); ``close``: each with the source's related skill it is close to."""
    shown = [s.label + (" *" if s.core else "") + (f" (~ {s.via['label']})" if close and s.via else "")
             for s in items[:limit]]
    more = f" (+{len(items) - limit})" if len(items) > limit else ""
    return "; ".join(shown) + more


@app.command("bridges")
def bridges_command(
    code: Annotated[Optional[str], typer.Argument(help="Source occupation code, e.g. H2102.")] = None,
    referentiel: SourceOption = None,
    k: KOption = 10,
    sector: SectorsOption = None,
    domain: Annotated[Optional[list[str]], typer.Option("--domain", "-d", help="Target domain, e.g. H29 (repeatable).")] = None,
    cross_sector_only: Annotated[bool, typer.Option("--cross-sector-only", help="Only targets outside every sector of the source.")] = False,
    min_score: MinScoreOption = 0.0,
    min_label: Annotated[Optional[Literal["stretch", "viable", "highly viable"]], typer.Option(
        "--min-label", help="Lowest calibrated viability kept: stretch, viable or 'highly viable'.")] = None,
    skills: Annotated[int, typer.Option(help="Held / close / missing skills shown per bridge (text output).")] = 4,
    list_sectors: Annotated[bool, typer.Option("--list-sectors", help="List the referential's sectors and exit.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The best career bridges from one occupation, with held, close and missing skills (* = core).

    Held: the same skill, or one that contains it. Close: related to a skill of the source (shown
    after ~), not held: worth checking, possibly quick to acquire, still to plan."""
    if list_sectors:
        r = referentiels.load(referentiel or "demo")
        counts = r.sectors.group_by("sector").len().sort("sector")
        if as_json:
            emit_json([{"sector": s, "occupations": n} for s, n in counts.iter_rows()])
        else:
            for s, n in counts.iter_rows():
                typer.echo(f"{n:>5}  {s}")
        return
    if not code:
        fail("expected an occupation code, e.g. `passerelles bridges H2102` (or --list-sectors)")
    e = engine(referentiel)
    a = row_of(e, code)
    found = _sector_guard(lambda: e.index.query(a, k, sectors=sector or None, domains=domain or None,
                                                cross_sector_only=cross_sector_only, min_score=min_score,
                                                min_label=min_label))
    if as_json:
        emit_json({"source": code, "passerelles": [p.to_dict() for p in found]})
        return
    typer.echo(f"{code}  {e.index.labels[a]}  [{'; '.join(e.index.sectors_of(a)) or '-'}]")
    if not found:
        typer.echo("no bridge matches these filters")
    for i, p in enumerate(found, 1):
        typer.echo(f"\n{i:>2}. {p.code}  {p.label}  [{'; '.join(p.sectors) or '-'}]")
        typer.echo(f"    score {p.score:.3f}  similarity {p.similarity:.3f}  coverage {p.coverage:.3f}  {p.viability or ''}")
        typer.echo(f"    held    ({len(p.shared)}): {_skills(p.shared, skills)}")
        typer.echo(f"    close   ({len(p.close)}): {_skills(p.close, skills, close=True)}")
        typer.echo(f"    missing ({len(p.missing)}): {_skills(p.missing, skills)}")


@app.command("sector-map")
def sector_map_command(
    sector_a: Annotated[str, typer.Argument(help="A sector, e.g. 'Industrie - Alimentaire'.")],
    sector_b: Annotated[str, typer.Argument(help="Another sector, e.g. 'Industrie - Métallurgie'.")],
    referentiel: SourceOption = None,
    k_per_source: Annotated[int, typer.Option(min=1, help="Best targets kept per source occupation.")] = 5,
    min_score: MinScoreOption = 0.0,
    top_skills: Annotated[int, typer.Option(help="Common skills listed.")] = 20,
    kind: Annotated[Optional[list[str]], typer.Option(
        "--kind", help="Common skills of these kinds only: savoir-faire, savoir, savoir-être (repeatable).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every bridge between two sectors, both directions, the skills their sources hold, and apart the close ones."""
    e = engine(referentiel)
    pair = _sector_guard(lambda: e.index.sector_pair_map(sector_a, sector_b, k_per_source=k_per_source,
                                                          min_score=min_score))
    if as_json:
        emit_json(pair.to_dict(top_skills=top_skills, kinds=kind))
        return
    counts = pair.to_dict(top_skills=0)["counts"]
    typer.echo(f"{pair.sector_a} <-> {pair.sector_b}: {counts['bridges']} bridges "
               f"({counts['a_to_b']} one way, {counts['b_to_a']} back)")
    for direction in pair.bridges["direction"].unique(maintain_order=True).to_list():
        typer.echo(f"\n{direction}")
        for row in pair.bridges.filter(pair.bridges["direction"] == direction).iter_rows(named=True):
            typer.echo(f"  {row['source']} -> {row['target']}  {row['score']:.3f}  {row['viability'] or '':<13} "
                       f"{row['source_label'][:40]} -> {row['target_label'][:40]}")
    typer.echo("\ncommon skills (bridges whose source holds them):")
    for row in pair.skills_of(kind).head(top_skills).iter_rows(named=True):
        typer.echo(f"  {row['bridges']:>4}  {row['share']:>5.0%}  {row['kind']:<12} {row['label']}")
    typer.echo("\nclose skills, apart (bridges whose source has a related skill only: to check, to plan):")
    for row in pair.skills_of(kind, close=True).head(top_skills).iter_rows(named=True):
        typer.echo(f"  {row['bridges']:>4}  {row['share']:>5.0%}  {row['kind']:<12} {row['label']}")


@app.command("paths")
def paths_command(
    source: Annotated[str, typer.Argument(help="From occupation code.")],
    target: Annotated[str, typer.Argument(help="To occupation code.")],
    referentiel: SourceOption = None,
    max_steps: Annotated[int, typer.Option(min=1, max=3, help="Bridges per path, at most.")] = 3,
    n: Annotated[int, typer.Option("-n", min=1, help="Number of paths.")] = 3,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Bridges per occupation in the graph.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Best career paths from one occupation to another (product of bridge scores), each step explained."""
    from matching.graph import bridge_graph, career_paths

    e = engine(referentiel)
    a, b = row_of(e, source), row_of(e, target)
    if a == b:
        fail("expected two different occupations")
    found = career_paths(e.index, bridge_graph(e.index, k=k), a, b, max_steps=max_steps, n_paths=n)
    if as_json:
        emit_json({"source": source, "target": target, "paths": [p.to_dict() for p in found]})
        return
    for i, p in enumerate(found, 1):
        typer.echo(f"{i}. {' -> '.join(p.codes)}   score {p.score:.4f}")
        for step, frm in zip(p.steps, p.codes):
            typer.echo(f"     {frm} -> {step.code} {step.label[:50]}: {step.score:.3f} {step.viability or ''}, "
                       f"{len(step.shared)} held, {len(step.close)} close, {len(step.missing)} missing "
                       f"({sum(s.core for s in step.close + step.missing)} core to acquire)")


@graph_app.command("export")
def graph_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    referentiel: SourceOption = None,
    fmt: Annotated[Literal["graphml", "gexf", "json"], typer.Option(
        "--format", "-f", help="graphml, gexf or json (node-link).")] = "graphml",
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Bridges kept per occupation.")] = 10,
    min_score: MinScoreOption = 0.0,
    sector: SectorsOption = None,
    skills: Annotated[bool, typer.Option("--skills", help="Attach skills as nodes.")] = False,
) -> None:
    """Write the occupation graph as GraphML, GEXF or node-link JSON."""
    from matching.graph import bridge_graph, export

    e = engine(referentiel, labels=False)
    rows = None
    if sector:
        rows = _sector_guard(lambda: e.index.membership[:, e.index.sector_ids(sector)].any(axis=1).nonzero()[0])
    g = bridge_graph(e.index, k=k, min_score=min_score, skills=skills, occupations=rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(export(g, fmt))
    typer.echo(f"wrote {g.number_of_nodes():,} nodes and {g.number_of_edges():,} edges to {out} ({fmt})")


@graph_app.command("hubs")
def graph_hubs(
    referentiel: SourceOption = None,
    top: Annotated[int, typer.Option(min=1)] = 20,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Bridges kept per occupation.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Hub occupations: those opening the most cross-sector bridges."""
    from matching.graph import bridge_graph, hubs

    e = engine(referentiel, labels=False)
    found = hubs(e.index, bridge_graph(e.index, k=k), top=top)
    if as_json:
        emit_json([h.to_dict() for h in found])
        return
    for h in found:
        typer.echo(f"{h.code}  {h.cross_sector_bridges:>3}/{h.bridges} cross-sector  mean {h.mean_score:.3f}  "
                   f"{h.label}  [{'; '.join(h.sectors)}]")


@graph_app.command("communities")
def graph_communities(
    referentiel: SourceOption = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, help="Bridges kept per occupation.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Communities of occupations on the bridge graph (Louvain, seeded), largest first."""
    from matching.graph import bridge_graph, communities

    e = engine(referentiel, labels=False)
    found = communities(bridge_graph(e.index, k=k))
    if as_json:
        emit_json([{"size": len(c), "occupations": c} for c in found])
        return
    labels = dict(zip(e.index.codes, e.index.labels))
    for i, c in enumerate(found, 1):
        typer.echo(f"{i:>3}. {len(c):>4} occupations: " + "; ".join(f"{x} {labels[x][:30]}" for x in c[:5])
                   + (" ..." if len(c) > 5 else ""))


HELD_CLAIMS = Path(__file__).resolve().parents[2] / "benchmarks" / "labels" / "held_claims.csv"
HELD_COLUMNS = ("source_code", "target_code", "label", "split")


def _held_claims_report(r, space, path: Path | None, encoder: bool = True) -> dict:
    """Precision / recall of *held* on a labelled CSV: its held-out half (``split`` = test: the
    figure), and its dev half (what the relation was tuned on), by the served relation (labels
    only) and, where the settings' encoder loads and ``encoder`` is set, with its veto too; or
    ``{"skipped": why}`` when there is no file or its skill codes are not this referential's."""
    import numpy as np
    import polars as pl

    from matching.evaluation import evaluate_held_claims
    from matching.relation import ENCODER_VETO, SkillRelation

    path = Path(path) if path is not None else HELD_CLAIMS
    if not path.exists():
        if path == HELD_CLAIMS:
            return {"skipped": f"no labelled pairs at {path}"}
        fail(f"--held-claims {path}: no such file")
    try:
        frame = pl.read_csv(path, schema_overrides={c: pl.String for c in HELD_COLUMNS})
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as error:
        fail(f"--held-claims {path}: not a readable CSV ({error})")
    missing = [c for c in HELD_COLUMNS if c not in frame.columns]
    if missing:
        fail(f"--held-claims {path}: expected columns {', '.join(HELD_COLUMNS)}; missing {', '.join(missing)}")
    bad = frame.filter(~pl.col("label").is_in(["0", "1"]) | ~pl.col("split").is_in(["dev", "test"]))
    if bad.height:
        row = bad.row(0, named=True)
        fail(f"--held-claims {path}: expected label 0 or 1 and split dev or test; found label {row['label']!r}, "
             f"split {row['split']!r} (pair {row['source_code']} -> {row['target_code']})")
    test = frame.filter(pl.col("split") == "test")
    col = r.skill_index if hasattr(r, "skill_index") else {c: i for i, c in enumerate(r.skill_codes)}
    known = [s in col and t in col for s, t in zip(frame["source_code"], frame["target_code"])]
    if not test.height or not all(known):
        return {"skipped": f"{known.count(False)} of {frame.height} pairs of {path.name} name skills "
                           f"this referential does not have"}
    halves = {name: frame.filter(pl.col("split") == name) for name in ("test", "dev")}
    pairs = {name: (np.array([col[c] for c in h["target_code"]]), np.array([col[c] for c in h["source_code"]]),
                    h["label"].cast(pl.Int8).to_numpy(), h["stratum"].to_numpy() if "stratum" in h.columns else None)
             for name, h in halves.items()}
    relation = SkillRelation.from_referentiel(r, space)
    out = {"file": path.name, "split": "test", "served": "labels only (the encoder's veto is measured, not served)",
           **evaluate_held_claims(relation, *pairs["test"]),
           "dev": evaluate_held_claims(relation, *pairs["dev"])["after"] if halves["dev"].height else None}
    if not encoder:
        return out
    from matching.encoder import EncoderError

    from api.services.encoding import encoder_status, skill_label_signal
    from api.settings import Settings

    settings = Settings()
    status = encoder_status(settings.encoder, settings.encoder_threads)
    if not status.available:
        out["with_encoder"] = {"skipped": status.reason}
        return out
    started = time.perf_counter()
    columns = np.concatenate([np.concatenate(p[:2]) for p in pairs.values()])
    try:
        cosine = skill_label_signal(r, status.encoder, columns, settings.cache_dir)
    except (EncoderError, OSError, ValueError) as error:
        out["with_encoder"] = {"skipped": f"{type(error).__name__}: {error}"}
        return out
    vetoed = relation.with_signal("encoder", cosine, veto=ENCODER_VETO)
    with_test = evaluate_held_claims(vetoed, *pairs["test"])
    out["with_encoder"] = {"encoder": status.name, "veto": ENCODER_VETO, "after": with_test["after"],
                           "by_stratum": with_test.get("by_stratum"),
                           "dev": evaluate_held_claims(vetoed, *pairs["dev"])["after"] if halves["dev"].height else None,
                           "seconds": round(time.perf_counter() - started, 2)}
    return out


@app.command("evaluate")
def evaluate_command(
    source: Annotated[str, typer.Argument(help="demo, rome:DIR or csv:DIR (needs official mobilities)")] = "demo",
    folds: Annotated[int, typer.Option(min=2, help="Cross-validation folds, split by source occupation.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the fold assignment.")] = 0,
    held_claims: Annotated[Optional[Path], typer.Option(
        "--held-claims", help="Labelled (source skill, target skill) pairs, CSV (default: "
        "benchmarks/labels/held_claims.csv); its held-out half measures the skill relation.")] = None,
    held_claims_encoder: Annotated[bool, typer.Option(
        "--held-claims-encoder/--no-held-claims-encoder", help="Also measure the relation with the text "
        "encoder's veto (PASSERELLES_ENCODER; embeds the labelled skills' labels once, cached).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Recall@5/10/20 and MRR of the official mobilities, hidden from the engine, plus cross-sector recall;
    which score is served; precision and recall of the explanations' *held* skills on labelled pairs.

    Rows: plain TF-IDF cosine (the reference), the skill-space cosine, the bridge score on content
    only, and the bridge score with its mobility signal under k-fold cross-validation by source."""
    from matching.evaluation import evaluate_bridges
    from matching.bridges import mobility_rows
    from matching.space import SkillSpace

    started = time.perf_counter()
    r = referentiels.load(source)
    if r.mobilities.height == 0:
        fail(f"{source} has no official mobilities to evaluate against")
    sources, targets = mobility_rows(r)
    space = SkillSpace.from_referentiel(r)
    results = evaluate_bridges(space, r.matrix, sources, targets, space.context.sectors, n_folds=folds, seed=seed)
    from matching.evaluation import learned_beats_content

    learned = results.get("bridge_learned_cv")
    served = "learned" if learned is not None and learned_beats_content(results["bridge_content"], learned) else "content"
    held = _held_claims_report(r, space, held_claims, held_claims_encoder)
    report = {"served": {"score": served, "rule": "learned only where its cross-validation beats the content "
                                                  "score on recall@10 and MRR"},
              "held_claims": held,"referentiel": {"name": r.name, "version": r.version, "source": r.source, "fingerprint": r.fingerprint},
              "protocol": {"ranked": "every other occupation, per source with mobilities",
                           "recall": "macro average over sources", "folds": folds, "seed": seed,
                           "cross_sector": "mobilities leaving every sector of the source, ranking only such occupations"},
              "results": {name: e.to_dict() for name, e in results.items()},
              "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        emit_json(report)
        return
    typer.echo(f"{r.name} {r.version}: {next(iter(results.values())).pairs:,} official mobilities from "
               f"{next(iter(results.values())).sources:,} occupations (hidden from the engine)")
    header = f"{'ranking':<20}{'R@5':>8}{'R@10':>8}{'R@20':>8}{'MRR':>8}{'xR@5':>8}{'xR@10':>8}{'xR@20':>8}"
    typer.echo(header)
    for name, e in results.items():
        typer.echo(f"{name:<20}" + "".join(f"{v:>8.3f}" for v in (*e.recall.values(), e.mrr))
                   + "".join(f"{v:>8.3f}" for v in e.cross_sector_recall.values()))
    typer.echo(f"xR@k: cross-sector recall ({next(iter(results.values())).cross_sector_pairs:,} mobilities leave "
               f"every sector of their source). bridge_learned_cv: {folds}-fold CV split by source. "
               f"{report['seconds']} s")
    typer.echo(f"served: {served} ({report['served']['rule']})")
    if "skipped" in held:
        typer.echo(f"held claims: not measured ({held['skipped']})")
        return
    typer.echo(f"held claims, held-out half of {held['file']} ({held['after']['pairs']} pairs, "
               f"{held['after']['labelled_held']} labelled held):")
    for name in ("before", "after"):
        f = held[name]
        typer.echo(f"  {name:<7} claimed {f['claimed_held']:>4}  precision {f['precision']:.3f}  recall {f['recall']:.3f}")
    for name, f in held.get("by_stratum", {}).items():
        precision = "-" if f["precision"] is None else f"{f['precision']:.3f}"
        typer.echo(f"  {name:<7} claimed {f['claimed_held']:>4}  precision {precision:>5}  recall {f['recall']:.3f}")
    encoded = held.get("with_encoder")
    if encoded is not None and "skipped" in encoded:
        typer.echo(f"  with the encoder's veto: not measured ({encoded['skipped']})")
    elif encoded is not None:
        f = encoded["after"]
        typer.echo(f"  + veto  claimed {f['claimed_held']:>4}  precision {f['precision']:.3f}  recall {f['recall']:.3f}"
                   f"  (the encoder's cosine < {encoded['veto']} is not held; {encoded['encoder']}, "
                   f"{encoded['seconds']} s; measured, not served)")
    for name, f in (("dev", held.get("dev")), ("dev+veto", (encoded or {}).get("dev"))):
        if f:
            precision = "-" if f["precision"] is None else f"{f['precision']:.3f}"
            typer.echo(f"  {name:<8} claimed {f['claimed_held']:>4}  precision {precision:>5}  recall {f['recall']:.3f}"
                       f"  (dev half, {f['pairs']} pairs: tuned on)")
