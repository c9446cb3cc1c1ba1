"""Write a bridge kit as xlsx, a self-contained html page, json (with a schema) or a zip of csv.

Text is data, never a formula: xlsx and csv cells go through ``api.storage.exports`` (string cells;
the OWASP CSV rule), the html page escapes every text with ``html.escape``, json stays raw data.

A :class:`Kit` is plain tables (polars) plus a summary; ``api/services/kits/build.py`` builds it from the engine.
Every writer is deterministic: the same kit gives the same bytes except the generation timestamp
(and, for xlsx/zip, the container's own timestamps, which are pinned here too).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from api.storage import exports

FORMATS = ("xlsx", "html", "json", "csv")
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "http" / "schemas" / "kit.schema.json"

# Sheet / section title, and the French header of each column, in order.
TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "bridges": ("Passerelles", {
        "direction": "Sens", "source": "Code source", "source_label": "Métier source",
        "target": "Code cible", "target_label": "Métier cible", "score": "Score",
        "viability": "Appréciation", "shared_skills": "Compétences détenues",
        "close_skills": "Compétences proches (à vérifier, peut-être rapides à acquérir)",
        "missing_skills": "Compétences à acquérir", "missing_core": "Dont cœur de métier (proches ou à acquérir)",
        "plan_trainings": "Formations proposées", "plan_hours": "Heures de formation",
        "plan_cost": "Coût (€)", "residual_skills": "Non couvert par le catalogue",
        "tension": "Tension de la cible (par bassin)"}),
    "common_skills": ("Compétences communes", {
        "skill": "Code", "label": "Compétence", "kind": "Nature", "bridges": "Passerelles où elle est détenue",
        "share": "Part des passerelles"}),
    "close_skills": ("Compétences proches", {
        "skill": "Code", "label": "Compétence", "kind": "Nature",
        "bridges": "Passerelles où elle est seulement proche (à vérifier)", "share": "Part des passerelles"}),
    "hubs": ("Métiers pivots", {
        "occupation": "Code", "label": "Métier", "sector": "Secteur",
        "cross_sector_bridges": "Passerelles vers l'autre secteur", "mean_score": "Score moyen"}),
    "plans": ("Formations", {
        "source": "Code source", "target": "Code cible", "step": "Étape", "training": "Formation (id)",
        "title": "Intitulé", "organisation": "Organisme", "hours": "Heures", "cost": "Coût (€)",
        "covers": "Compétences couvertes", "session": "Session", "start": "Début", "places": "Capacité",
        "places_left": "Places restantes"}),
    "tension": ("Tension", {
        "basin": "Bassin (id)", "basin_name": "Bassin", "occupation": "Code", "label": "Métier",
        "offers": "Offres", "seekers": "Demandeurs", "tension": "Tension"}),
    "access_routes": ("Voies d'accès", {
        "basin": "Bassin (id)", "basin_name": "Bassin", "target": "Code cible", "target_label": "Métier cible",
        "source": "Code source", "source_label": "Métier d'origine", "score": "Score de la passerelle",
        "missing_skills": "Compétences à acquérir", "training": "Formation (id)", "title": "Intitulé",
        "session": "Session", "start": "Début", "places": "Capacité",
        "places_left": "Places restantes", "city": "Lieu", "distance_km": "Distance (km)"}),
}
COUNT_LABELS = {"occupations_from": "Métiers du secteur de départ", "occupations_to": "Métiers du secteur d'arrivée",
                "bridges_forward": "Passerelles dans le sens départ -> arrivée",
                "bridges_backward": "Passerelles dans le sens arrivée -> départ",
                "common_skills": "Compétences communes (détenues)",
                "close_skills": "Compétences proches (à vérifier)", "trainings_in_plans": "Formations dans les plans"}
HTML_LIST_MAX = 8
"""Skill lists longer than this are cut in the html kit (core skills come first); xlsx has them all."""
NUMBER_FORMATS = {"distance_km": "0.0", "score": "0.00", "share": "0%", "mean_score": "0.00", "tension": "0.00",
                  "plan_hours": "0", "hours": "0", "plan_cost": "#,##0", "cost": "#,##0"}


@dataclass(frozen=True)
class Kit:
    """A bridge kit for a pair of sectors and a territory.

    ``summary`` holds ``from_sector``, ``to_sector``, ``basins`` (list of {id, name}),
    ``referential`` ({name, version, source, fingerprint}), ``generated_at`` (ISO 8601) and
    ``counts``. ``scores`` is the long table (source, target, score) of every pair between the two
    sectors' occupations, for the heatmap; the other tables are described in :data:`TABLES`.
    """

    summary: dict[str, Any]
    bridges: pl.DataFrame
    common_skills: pl.DataFrame
    hubs: pl.DataFrame
    plans: pl.DataFrame
    tension: pl.DataFrame
    scores: pl.DataFrame
    close_skills: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"skill": pl.String, "label": pl.String, "kind": pl.String, "bridges": pl.Int64, "share": pl.Float64}))
    """Skills only close (related to one the source has, not held), apart from the common ones."""
    access_routes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())

    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    def to_dict(self) -> dict[str, Any]:
        """The json form (validated by ``api/http/schemas/kit.schema.json``)."""
        return {"summary": self.summary,
                **{name: frame.to_dicts() for name, frame in self.tables().items()}}


def write(kit: Kit, fmt: str, path: str | Path) -> Path:
    """Write ``kit`` in ``fmt`` (one of :data:`FORMATS`) to ``path``; returns the path."""
    writers = {"xlsx": write_xlsx, "html": write_html, "json": write_json, "csv": write_csv_zip}
    if fmt not in writers:
        raise ValueError(f"unknown kit format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[fmt](kit, path)
    return path


def render(kit: Kit, fmt: str) -> bytes:
    """The kit as bytes in ``fmt`` (for HTTP responses)."""
    buffer = io.BytesIO()
    {"xlsx": write_xlsx, "html": write_html, "json": write_json, "csv": write_csv_zip}[fmt](kit, buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return value


def _summary_rows(kit: Kit) -> list[tuple[str, Any]]:
    s = kit.summary
    ref = s["referential"]
    rows = [("Du secteur", s["from_sector"]), ("Vers le secteur", s["to_sector"]),
            ("Territoire", ", ".join(b["name"] for b in s["basins"]) or "national (aucun bassin)"),
            ("Référentiel", f"{ref['name']} {ref['version']}"), ("Empreinte du référentiel", ref["fingerprint"]),
            ("Généré le", s["generated_at"])]
    rows += [(COUNT_LABELS.get(k, k.replace("_", " ")), v) for k, v in s["counts"].items()]
    return rows


# ---- xlsx ------------------------------------------------------------------------------------
def write_xlsx(kit: Kit, target: Path | io.BytesIO) -> None:
    """Every text cell a string cell, never a formula (``api.storage.exports``); numbers as numbers."""
    book = exports.workbook(target)
    book.set_properties({"title": f"Kit passerelles {kit.summary['from_sector']} -> {kit.summary['to_sector']}",
                         "author": "Passerelles", "created": datetime(2000, 1, 1)})
    header = book.add_format({"bold": True, "bg_color": "#DCE6F2", "border": 1, "text_wrap": True,
                              "valign": "top"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    formats = {key: book.add_format({"num_format": fmt, "valign": "top"}) for key, fmt in NUMBER_FORMATS.items()}

    sheet = book.add_worksheet("Résumé")
    exports.write_row(sheet, 0, 0, ["Élément", "Valeur"], header)
    for i, (label, value) in enumerate(_summary_rows(kit), start=1):
        exports.write_row(sheet, i, 0, [label, value])
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 80, wrap)
    sheet.freeze_panes(1, 0)

    for name, (title, columns) in TABLES.items():
        frame = getattr(kit, name)
        sheet = book.add_worksheet(title)
        present = [c for c in columns if c in frame.columns]
        exports.write_row(sheet, 0, 0, [columns[c] for c in present], header)
        for r, row in enumerate(frame.select(present).iter_rows(), start=1):
            for c, (column, value) in enumerate(zip(present, row)):
                exports.write_cell(sheet, r, c, _cell(value), formats.get(column, wrap))
        for c, column in enumerate(present):
            longest = max([len(columns[column])] + [len(str(_cell(v))) for v in frame[column].to_list()[:500]])
            sheet.set_column(c, c, min(max(10, longest + 2), 60), formats.get(column, wrap))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(frame.height, 1), max(len(present) - 1, 0))
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(0)
        sheet.set_paper(9)  # A4
    book.close()  # xlsxwriter writes to the path itself when given one


# ---- json and csv ----------------------------------------------------------------------------
def write_json(kit: Kit, target: Path | io.BytesIO) -> None:
    data = json.dumps(kit.to_dict(), ensure_ascii=False, indent=2, default=str).encode("utf-8")
    if isinstance(target, io.BytesIO):
        target.write(data)
    else:
        Path(target).write_bytes(data)


def write_csv_zip(kit: Kit, target: Path | io.BytesIO) -> None:
    """summary.json and one CSV per table; lists joined by "; ", cells escaped (``api.storage.exports``)."""
    fixed = (2000, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("summary.json", fixed)
        archive.writestr(info, json.dumps(kit.summary, ensure_ascii=False, indent=2))
        for name, frame in kit.tables().items():
            flat = frame.with_columns([pl.col(c).list.join("; ") for c, t in frame.schema.items()
                                       if isinstance(t, pl.List)])
            flat = flat.with_columns([pl.col(c).struct.json_encode() for c, t in flat.schema.items()
                                      if isinstance(t, pl.Struct)])
            archive.writestr(zipfile.ZipInfo(f"{name}.csv", fixed), exports.write_csv(flat))


# ---- html ------------------------------------------------------------------------------------
def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def heatmap_png(kit: Kit) -> str:
    """Bridge scores from the first sector's occupations (rows) to the second's (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = kit.summary
    pairs = kit.scores.filter(pl.col("direction") == "forward") if "direction" in kit.scores.columns else kit.scores
    sources = sorted(set(pairs["source"].to_list()))
    targets = sorted(set(pairs["target"].to_list()))
    grid = np.zeros((len(sources), len(targets)))
    index_s = {c: i for i, c in enumerate(sources)}
    index_t = {c: i for i, c in enumerate(targets)}
    for source, target, score in pairs.select("source", "target", "score").iter_rows():
        grid[index_s[source], index_t[target]] = score
    height = max(3.0, 0.28 * len(sources) + 1.5)
    width = max(4.0, 0.28 * len(targets) + 2.5)
    figure, axes = plt.subplots(figsize=(min(width, 16), min(height, 16)))
    image = axes.imshow(grid, cmap="Blues", vmin=0, vmax=max(grid.max(), 1e-9), aspect="auto")
    axes.set_xticks(range(len(targets)), targets, rotation=90, fontsize=7)
    axes.set_yticks(range(len(sources)), sources, fontsize=7)
    axes.set_xlabel(s["to_sector"])
    axes.set_ylabel(s["from_sector"])
    axes.set_title("Score de passerelle")
    figure.colorbar(image, ax=axes, shrink=0.8)
    encoded = _png(figure)
    plt.close(figure)
    return encoded


def network_png(kit: Kit) -> str:
    """The kit's bridges as a network: one colour per sector, edge width by score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    graph = nx.DiGraph()
    side = {}
    for row in kit.bridges.iter_rows(named=True):
        forward = row["direction"] == "forward"
        side[row["source"]] = 0 if forward else 1
        side[row["target"]] = 1 if forward else 0
        graph.add_edge(row["source"], row["target"], weight=row["score"])
    figure, axes = plt.subplots(figsize=(9, 7))
    axes.set_axis_off()
    if graph.number_of_nodes():
        layout = nx.spring_layout(graph, seed=7, weight="weight")
        colours = ["#1f5fa8" if side.get(n, 0) == 0 else "#d9822b" for n in graph.nodes]
        widths = [0.5 + 3 * graph.edges[e]["weight"] for e in graph.edges]
        nx.draw_networkx_edges(graph, layout, ax=axes, width=widths, alpha=0.45, arrowsize=8,
                               edge_color="#555555")
        nx.draw_networkx_nodes(graph, layout, ax=axes, node_color=colours, node_size=260)
        nx.draw_networkx_labels(graph, layout, ax=axes, font_size=7)
    s = kit.summary
    axes.set_title(f"Passerelles : bleu = {s['from_sector']}, orange = {s['to_sector']}")
    encoded = _png(figure)
    plt.close(figure)
    return encoded


CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1f;margin:2rem auto;max-width:1150px;padding:0 1rem}
h1{color:#0b4f9c;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:2px solid #0b4f9c;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}th,td{border:1px solid #c9ccd6;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#dce6f2}tr:nth-child(even) td{background:#f7f9fc}.num{text-align:right;white-space:nowrap}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #c9ccd6}figcaption{color:#4a4a55;font-size:.9rem}
.summary th{width:30%}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}table{page-break-inside:auto}tr{page-break-inside:avoid}figure{page-break-inside:avoid}}
"""

#: The html kit's own Content-Security-Policy (a <meta> in the document, so that it holds when the
#: file is opened from disk too): no script, no request of any kind; its one inline style by hash,
#: its images inline (data:). Served over HTTP it also gets ``frame-ancestors 'none'; sandbox``
#: (api/http/routers/kits.py), which a <meta> cannot carry.
KIT_CSP = ("default-src 'none'; style-src 'sha256-"
           + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
           + "'; img-src data:; base-uri 'none'; form-action 'none'")


def _html_table(frame: pl.DataFrame, columns: dict[str, str], table_id: str) -> str:
    present = [c for c in columns if c in frame.columns]
    head = "".join(f"<th scope='col'>{html.escape(columns[c])}</th>" for c in present)
    body = []
    for row in frame.select(present).iter_rows():
        cells = []
        for column, value in zip(present, row):
            if isinstance(value, list) and len(value) > HTML_LIST_MAX:
                value = value[:HTML_LIST_MAX] + [f"… et {len(value) - HTML_LIST_MAX} autres (voir le classeur xlsx)"]
            value = _cell(value)
            if isinstance(value, float):
                text = f"{value:.0%}" if column == "share" else f"{value:.2f}"
                cells.append(f"<td class='num'>{text}</td>")
            elif isinstance(value, int):
                cells.append(f"<td class='num'>{value}</td>")
            else:
                cells.append(f"<td>{html.escape('' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            if body else "<p>Aucune ligne.</p>")


def write_html(kit: Kit, target: Path | io.BytesIO) -> None:
    s = kit.summary
    title = f"Kit passerelles : {s['from_sector']} ↔ {s['to_sector']}"
    summary = "".join(f"<tr><th scope='row'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                      for k, v in _summary_rows(kit))
    sections = [f"<h2>{html.escape(t)}</h2>" + _html_table(getattr(kit, name), cols, name)
                for name, (t, cols) in TABLES.items()]
    page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{KIT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Kit pour démultiplier une expérimentation de passerelles entre deux secteurs sur un territoire.</p>
<table class="summary">{summary}</table>
<h2>Carte des passerelles</h2>
<figure><img id="heatmap" alt="Carte de chaleur des scores de passerelle entre les métiers des deux secteurs"
 src="data:image/png;base64,{heatmap_png(kit)}"><figcaption>Score de passerelle de chaque métier de
 « {html.escape(s['from_sector'])} » (lignes) vers chaque métier de « {html.escape(s['to_sector'])} » (colonnes).</figcaption></figure>
<figure><img id="network" alt="Réseau des passerelles entre les deux secteurs"
 src="data:image/png;base64,{network_png(kit)}"><figcaption>Réseau des passerelles retenues dans les deux sens ;
 l'épaisseur d'un trait suit le score.</figcaption></figure>
{''.join(sections)}
<p><small>Généré par Passerelles le {html.escape(s['generated_at'])} ; référentiel {html.escape(s['referential']['name'])}
 {html.escape(s['referential']['version'])} ({html.escape(s['referential']['fingerprint'][:12])}).</small></p>
</body></html>
"""
    data = page.encode("utf-8")
    if isinstance(target, io.BytesIO):
        target.write(data)
    else:
        Path(target).write_bytes(data)
