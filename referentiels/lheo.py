"""LHEO, the French training-offer XML (versions 2.2 and 2.3): a streaming, safe reader and a writer.

    from referentiels.lheo import read_lheo, write_lheo
    offer = read_lheo("flux.xml", mode="valid")     # -> LheoOffer
    offer.trainings      # polars, one row per <action> (columns of TRAINING_SCHEMA)
    offer.sessions       # polars, one row per <session> (columns of SESSION_SCHEMA)
    offer.problems       # the records left out (mode="valid"), each with its element path and line
    offer.summary()      # {"format": "lheo", "version": "2.3", "trainings": n, "sessions": m, "rome": [...]}
    write_lheo(offer.trainings, offer.sessions, "out.xml", version="2.3")
    for batch in iter_lheo("flux.xml"): ...         # the same, ~2,000 actions (whole formations) at a time

**The format** (Langage Harmonisé d'Échange d'informations sur l'Offre de formation, the
reference language of the 2015 decree on the regional training offer; element names and
cardinalities from the LHEO documentation, lheo.gouv.fr, source ``lheo/lheo-schema``)::

    <lheo xmlns="http://lheo.gouv.fr/2.3">          (2.2: xmlns="http://www.lheo.org/2.2")
      <offres>
        <formation numero="...">                      one offer: what is taught
          <domaine-formation> code-FORMACODE{0,5} code-NSF{0,3} code-ROME{0,5} </domaine-formation>
          <intitule-formation/> <objectif-formation/> <resultats-attendus/> <contenu-formation/>
          <certifiante/> <contact-formation/> <parcours-de-formation/> <code-niveau-entree/>
          <certification> code-RNCP code-CERTIFINFO </certification>{0,5}
          <action numero="...">{1,N}                   where, when, for whom, paid by whom
            <rythme-formation/> <code-public-vise/>{1,10} <niveau-entree-obligatoire/>
            <modalites-alternance/> <modalites-enseignement/> (0 présentiel, 1 mixte, 2 à distance)
            <conditions-specifiques/> <prise-en-charge-frais-possible/>
            <lieu-de-formation><coordonnees><adresse> ligne codepostal ville
                 <geolocalisation> latitude longitude </geolocalisation></adresse></coordonnees></lieu-de-formation>
            <modalites-entrees-sorties/> (0 dates fixes, 1 entrées/sorties permanentes)
            <session numero="...">{1,N}
              <periode><debut>AAAAMMJJ</debut><fin>AAAAMMJJ</fin></periode>
              <adresse-inscription><adresse>...</adresse></adresse-inscription>
              <etat-recrutement/> (1 ouvert, 2 fermé, 3 suspendu)
            </session>
            <prix-total-TTC/> <nombre-heures-total/>
            <organisme-financeur> code-financeur nb-places-financees </organisme-financeur>{0,8}
          </action>
          <organisme-formation-responsable> numero-activite SIRET-organisme-formation/SIRET
            nom-organisme raison-sociale coordonnees-organisme contact-organisme </organisme-formation-responsable>
        </formation>
      </offres>
    </lheo>

Dates: ``AAAAMMJJ``; ``00000000`` (min) or ``99999999`` (max) is an unknown date, ``AAAAMM00`` a
month and ``AAAA0000`` a year (read as their first day for a start, their last day for an end;
the precision is kept so the writer gives back the same text).

**Reading** streams the file (``lxml.etree.iterparse``, each ``formation`` subtree freed once
read): memory stays bounded by the largest formation, not the file. It is safe: no DTD is loaded,
no entity is resolved, no network is reached; a document that declares a DOCTYPE (the vehicle of
the "billion laughs" bomb and of external entities) is refused before any record is read.
A bad value is a problem naming the element's path (``/lheo/offres/formation[3]/action[2]/
session[1]/periode/debut``) and its line. ``mode="all"`` refuses the whole file at the first
problem (``ReferentielError``); ``mode="valid"`` leaves out the smallest record holding it (a
session, an action, or a formation when the problem is at formation level) and loads the rest.

Read per action: the formation's title, objective, content, expected results, ROME / FORMACODE /
NSF codes, RNCP certifications (and their CERTIFINFO codes, kept) and whether it is certifying; the
responsible organisation's name and SIRET; the teaching mode, entry mode, place (address, postcode, city, coordinates), hours,
price, funders and their financed places; what a counsellor or a funder reads beyond that (web
addresses ``url-formation`` / ``url-action``, ``duree-indicative``, ``nombre-heures-centre`` /
``-entreprise``, ``prix-horaire-TTC``, ``acces-handicapes``, ``code-perimetre-recrutement``, the
trainer ``organisme-formateur``, further ``lieu-de-formation``); per session: period, recruiting
state, registration address, registration period (``periode-inscription``) and terms
(``modalites-inscription``); a few documented scalar elements are kept as they are for the export
(``kept``).

**Writing** (``write_lheo``) streams through ``lxml.etree.xmlfile``: every text is escaped by the
XML library; actions sharing a ``formation`` id are written under one ``formation`` element.
``read -> write -> read`` gives equal records (except their ``line``).

Pure data in: no referential needed, no skill derivation here (that is ``matching.training_skills``).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Iterable, Iterator, NamedTuple

import polars as pl

from .errors import ReferentielError
from .ids import RULE, id_problem

NAMESPACES = {"2.2": "http://www.lheo.org/2.2", "2.3": "http://lheo.gouv.fr/2.3"}
VERSION_OF = {ns: v for v, ns in NAMESPACES.items()}

RECRUITING_STATES = {"1": "ouvert", "2": "fermé", "3": "suspendu"}
STATE_CODES = {v: k for k, v in RECRUITING_STATES.items()}
RECRUITMENT_SCOPES = {"0": "Autres", "1": "Commune", "2": "Département", "3": "Région", "4": "Interrégion",
                      "5": "Pays", "6": "International"}  # dict-perimetre-recrutement (LHEO documentation)
TEACHING_MODES = {0: "formation entièrement présentielle", 1: "formation mixte", 2: "formation entièrement à distance"}
FUNDERS = {  # dict-financeurs (LHEO documentation); codes outside it are kept as they are
    "0": "Autre", "1": "Code(s) obsolète(s)", "2": "Collectivité territoriale - Conseil régional",
    "3": "Fonds européens - FSE", "4": "Pôle emploi", "5": "Entreprise", "6": "ACSÉ (anciennement FASILD)",
    "7": "AGEFIPH", "8": "Collectivité territoriale - Conseil général", "9": "Collectivité territoriale - Commune",
    "10": "Bénéficiaire de l'action", "11": "Etat - Ministère chargé de l'emploi",
    "12": "Etat - Ministère de l'éducation nationale", "13": "Etat - Autre", "14": "Fonds européens - Autre",
    "15": "Collectivité territoriale - Autre", "16": "OPCA", "17": "OPACIF",
}

TRAINING_SCHEMA = {
    "id": pl.String, "formation": pl.String, "title": pl.String, "objective": pl.String, "content": pl.String,
    "results": pl.String, "occupations": pl.List(pl.String), "formacodes": pl.List(pl.String),
    "nsf": pl.List(pl.String), "rncp": pl.List(pl.String), "certifying": pl.Boolean,
    "organisation": pl.String, "siret": pl.String, "teaching_mode": pl.Int8, "remote": pl.Boolean,
    "permanent_entry": pl.Boolean, "address_lines": pl.List(pl.String), "postcode": pl.String, "city": pl.String,
    "lat": pl.Float64, "lon": pl.Float64, "hours": pl.Float64, "cost": pl.Float64,
    "funders": pl.List(pl.String), "funder_places": pl.List(pl.Int64), "places": pl.Int64,
    "url_formation": pl.List(pl.String), "url_action": pl.List(pl.String), "recruitment_scope": pl.String,
    "hourly_price": pl.Float64, "indicative_duration": pl.String, "hours_centre": pl.Int64,
    "hours_company": pl.Int64, "disabled_access": pl.String, "trainer_siret": pl.String, "trainer_name": pl.String,
    "other_places": pl.List(pl.String),
    "kept": pl.String, "line": pl.Int64,
}
"""One row per action. ``places``: financed places summed over the funders (null when none gives a
number); ``remote``: teaching mode 2; ``url_formation`` / ``url_action``: the ``urlweb`` of
``url-formation`` / ``url-action`` (1 to 3 each); ``recruitment_scope``: ``code-perimetre-recrutement``
(a key of ``RECRUITMENT_SCOPES``); ``hourly_price``: ``prix-horaire-TTC`` (euros); ``indicative_duration``:
``duree-indicative`` (text, "2 ans"); ``hours_centre`` / ``hours_company``: ``nombre-heures-centre`` /
``-entreprise``; ``disabled_access``: ``acces-handicapes`` ("" when the element is empty: no specific
arrangement); ``trainer_siret`` / ``trainer_name``: ``organisme-formateur`` (``SIRET-formateur/SIRET``,
``raison-sociale-formateur``); ``other_places``: the action's further ``lieu-de-formation`` (LHEO 2.3),
each a JSON object ``{"lines", "postcode", "city", "lat", "lon"}``; ``kept``: JSON object of the
documented scalar elements read as they are (see ``KEPT_FORMATION``, ``KEPT_ACTION``, ``KEPT_ORGANISATION``)."""

SESSION_SCHEMA = {
    "id": pl.String, "training": pl.String, "start": pl.Date, "start_precision": pl.String,
    "end": pl.Date, "end_precision": pl.String, "state": pl.String,
    "registration_lines": pl.List(pl.String), "registration_postcode": pl.String,
    "registration_city": pl.String, "capacity": pl.Int64, "registration_terms": pl.String,
    "registration_from": pl.Date, "registration_from_precision": pl.String, "registration_to": pl.Date,
    "registration_to_precision": pl.String, "line": pl.Int64,
}
"""One row per session. ``start``/``end``: null when unknown; precision ``day``, ``month`` or
``year``; ``state``: ouvert / fermé / suspendu (null when absent); ``capacity``: the places the
organisation sets itself for this session (extension ``<extras info="passerelles"><extra
info="capacite">``), null when it relies on the action's financed places; ``registration_terms``:
``modalites-inscription``; ``registration_from`` / ``registration_to`` (with their precision): the
``periode-inscription``, null when absent or unknown."""

KEPT_FORMATION = ("parcours-de-formation", "code-niveau-entree", "code-niveau-sortie")
KEPT_ACTION = ("rythme-formation", "niveau-entree-obligatoire", "modalites-alternance", "conditions-specifiques",
               "prise-en-charge-frais-possible")
KEPT_ORGANISATION = ("numero-activite", "raison-sociale")

MODES = ("valid", "all")
CHUNK_ROWS = 2_000
"""Actions read before their rows are moved into typed frames (Python dicts cost ~1 kB each)."""
PRECISIONS = ("day", "month", "year")
_ROME = re.compile(r"^[A-N][0-9]{4}$")
_FORMACODE = re.compile(r"^[0-9]{5}$")
_NSF = re.compile(r"^[0-9]{3}$|^[0-9]{2}[0-9A-Za-z]$")
_RNCP = re.compile(r"^[0-9A-Za-z]{1,10}$")
_CERTIFINFO = re.compile(r"^[0-9]{1,10}$")
_SIRET = re.compile(r"^[0-9]{14}$")
_POSTCODE = re.compile(r"^[0-9]{5}$")
_DATE = re.compile(r"^[0-9]{8}$")
_INT = re.compile(r"^[0-9]{1,5}$")
_DECIMAL = re.compile(r"^[0-9]{1,9}([.,][0-9]{1,4})?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class LheoProblem(NamedTuple):
    """A value the reader refused: ``path`` of the element (``/lheo/offres/formation[1]/action[2]``),
    its ``line`` in the file, what was wrong, what was expected and what was found."""

    path: str
    line: int | None
    message: str
    expected: str | None = None
    found: str | None = None

    def error(self, file: str) -> ReferentielError:
        return ReferentielError(self.message, file=file, line=self.line, column=self.path, expected=self.expected,
                                found=self.found)

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "message": self.message, "expected": self.expected,
                "found": self.found}


class _Refused(Exception):
    """Raised inside the reader to drop the record holding a bad value."""

    def __init__(self, problem: LheoProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True, eq=False)
class LheoOffer:
    """An LHEO file read: its ``trainings`` (actions) and ``sessions`` frames and the ``problems``
    of the records left out. ``version``: "2.2" or "2.3"; ``file``: the name used in errors."""

    trainings: pl.DataFrame
    sessions: pl.DataFrame
    problems: list[LheoProblem] = field(default_factory=list)
    version: str = "2.3"
    file: str = "<lheo>"
    formations: int = 0

    def summary(self) -> dict:
        """``{"format": "lheo", "version", "formations", "trainings", "sessions", "rome", "problems"}``."""
        rome = sorted(set(self.trainings["occupations"].explode().drop_nulls().to_list())) if self.trainings.height else []
        return {"format": "lheo", "version": self.version, "file": self.file, "formations": self.formations,
                "trainings": self.trainings.height, "sessions": self.sessions.height, "rome": rome,
                "problems": len(self.problems), "left_out": [p.as_dict() for p in self.problems[:20]]}


# ---- dates ---------------------------------------------------------------------------------------

def parse_lheo_date(text: str, *, end: bool = False) -> tuple[date | None, str | None]:
    """An LHEO date (``AAAAMMJJ``) -> (date or None when unknown, precision or None).

    ``00000000`` and ``99999999`` are unknown; ``AAAAMM00`` is a month and ``AAAA0000`` a year:
    their first day for a start, their last day for an ``end``. Raises ValueError otherwise.
    """
    if not _DATE.match(text):
        raise ValueError("not 8 digits")
    if text in ("00000000", "99999999"):
        return None, None
    y, m, d = int(text[:4]), int(text[4:6]), int(text[6:])
    if not 1900 <= y <= 2200:
        raise ValueError("year out of range")
    if m == 0:
        if d != 0:
            raise ValueError("a day without a month")
        return (date(y, 12, 31) if end else date(y, 1, 1)), "year"
    if d == 0:
        first = date(y, m, 1)  # ValueError on a bad month
        if not end:
            return first, "month"
        following = date(y + (m == 12), m % 12 + 1, 1)
        return following - timedelta(days=1), "month"
    return date(y, m, d), "day"


def format_lheo_date(value: date | None, precision: str | None, *, end: bool = False) -> str:
    """The LHEO text of a date read by :func:`parse_lheo_date` (unknown: ``00000000`` / end ``99999999``)."""
    if value is None:
        return "99999999" if end else "00000000"
    if precision == "year":
        return f"{value.year:04d}0000"
    if precision == "month":
        return f"{value.year:04d}{value.month:02d}00"
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


# ---- reading -------------------------------------------------------------------------------------

class _Reader:
    """State of one read: the namespace prefix, ids seen, rows and problems."""

    def __init__(self, file: str, mode: str, ns: str) -> None:
        self.file, self.mode = file, mode
        self.prefix = "{" + ns + "}"
        self.cut = len(self.prefix)
        self.trainings: list[dict] = []
        self.sessions: list[dict] = []
        self.problems: list[LheoProblem] = []
        self.action_ids: set[str] = set()
        self.session_ids: set[str] = set()
        self.local: dict[str, str | None] = {}  # full tag -> local name (None: another namespace)
        self.kept_json: dict[tuple, str] = {}
        self.training_chunks: list[pl.DataFrame] = []
        self.session_chunks: list[pl.DataFrame] = []

    def flush(self) -> None:
        """Move the rows read so far into typed frames (bounds the memory of a large flux)."""
        if self.trainings:
            self.training_chunks.append(frame_of(self.trainings, TRAINING_SCHEMA))
            self.trainings = []
        if self.sessions:
            self.session_chunks.append(frame_of(self.sessions, SESSION_SCHEMA))
            self.sessions = []

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        self.flush()
        t = pl.concat(self.training_chunks, rechunk=False) if self.training_chunks else pl.DataFrame(schema=TRAINING_SCHEMA)
        s = pl.concat(self.session_chunks, rechunk=False) if self.session_chunks else pl.DataFrame(schema=SESSION_SCHEMA)
        return t, s

    # -- helpers --
    def kids(self, elem) -> dict[str, list]:
        """Children of ``elem`` in the LHEO namespace by local name (other namespaces are skipped)."""
        out: dict[str, list] = {}
        local = self.local
        for child in elem:
            tag = child.tag
            try:
                name = local[tag]
            except KeyError:
                name = local[tag] = tag[self.cut:] if isinstance(tag, str) and tag.startswith(self.prefix) else None
            if name is not None:
                if name in out:
                    out[name].append(child)
                else:
                    out[name] = [child]
        return out

    def refuse(self, path: str, elem, message: str, expected: str | None = None, found: str | None = None):
        raise _Refused(LheoProblem(path, getattr(elem, "sourceline", None), message, expected, found))

    def one(self, kids: dict, name: str, path: str, parent, *, required: bool = True, where: str = ""):
        found = kids.get(name)
        if not found:
            if required:
                self.refuse(path, parent, f"missing mandatory element <{name}>",
                            expected=f"<{name}> in <{path.rsplit('/', 1)[-1].split('[')[0]}>{where}", found="")
            return None
        return found[0]

    @staticmethod
    def text(elem) -> str:
        if elem is None:
            return ""
        text = elem.text
        if len(elem):
            return "".join(elem.itertext()).strip()
        return text.strip() if text else ""

    def required_text(self, kids, name, path, parent, *, max_chars: int) -> str:
        elem = self.one(kids, name, path, parent)
        value = self.text(elem)
        if not value:
            self.refuse(f"{path}/{name}", elem, f"empty <{name}>", expected=f"1 to {max_chars} characters", found="")
        if len(value) > max_chars:
            self.refuse(f"{path}/{name}", elem, f"<{name}> too long", expected=f"at most {max_chars} characters",
                        found=value[:40] + "...")
        return value

    def optional_text(self, kids, name, path, *, max_chars: int, min_chars: int = 1) -> str | None:
        """The text of an optional element of ``min_chars`` to ``max_chars`` characters (None when absent)."""
        elems = kids.get(name)
        if not elems:
            return None
        value = self.text(elems[0])
        if not min_chars <= len(value) <= max_chars:
            self.refuse(f"{path}/{name}", elems[0], f"bad <{name}> ({len(value)} characters)",
                        expected=f"{min_chars} to {max_chars} characters", found=value[:40])
        return value

    def urls(self, kids, name, path) -> list[str]:
        """The ``urlweb`` (1 to 3, 3 to 400 characters, http or https when a scheme is given) of an
        optional ``url-formation`` / ``url-action``."""
        elems = kids.get(name)
        if not elems:
            return []
        upath = f"{path}/{name}"
        webs = self.kids(elems[0]).get("urlweb", [])
        if not webs:
            self.refuse(upath, elems[0], "missing mandatory element <urlweb>", expected=f"1 to 3 <urlweb> in <{name}>",
                        found="")
        if len(webs) > 3:
            self.refuse(f"{upath}/urlweb[4]", webs[3], "too many <urlweb>", expected="at most 3", found=str(len(webs)))
        out = []
        for i, web in enumerate(webs, start=1):
            value = self.text(web)
            scheme = _SCHEME.match(value)
            if not 3 <= len(value) <= 400 or any(c.isspace() for c in value) or (
                    scheme and scheme.group(1).lower() not in ("http", "https")):
                self.refuse(f"{upath}/urlweb[{i}]", web, "bad <urlweb>",
                            expected="a web address of 3 to 400 characters without spaces (http or https)",
                            found=value[:80])
            out.append(value)
        return out

    def period(self, periode, ppath: str) -> tuple[tuple, tuple]:
        """<periode> (debut, fin): ((start, precision), (end, precision)), checked debut <= fin."""
        pk = self.kids(periode)
        values = []
        for name in ("debut", "fin"):
            elem = self.one(pk, name, ppath, periode)
            text = self.text(elem)
            try:
                values.append(parse_lheo_date(text, end=name == "fin"))
            except ValueError as error:
                self.refuse(f"{ppath}/{name}", elem, f"bad date in <{name}> ({error})",
                            expected="AAAAMMJJ, AAAAMM00 (a month), AAAA0000 (a year) or 00000000 (unknown)",
                            found=text)
        (start, start_p), (end, end_p) = values
        if start is not None and end is not None and end < start:
            self.refuse(ppath, periode, "the period ends before it starts", expected="debut <= fin",
                        found=f"{format_lheo_date(start, start_p)} > {format_lheo_date(end, end_p, end=True)}")
        return (start, start_p), (end, end_p)

    def codes(self, kids, name, path, pattern, expected: str, at_most: int) -> list[str]:
        elems = kids.get(name, [])
        if len(elems) > at_most:
            self.refuse(f"{path}/{name}[{at_most + 1}]", elems[at_most], f"too many <{name}>",
                        expected=f"at most {at_most}", found=str(len(elems)))
        out = []
        for i, e in enumerate(elems, start=1):
            value = self.text(e)
            if not pattern.match(value):
                self.refuse(f"{path}/{name}[{i}]", e, f"bad <{name}>", expected=expected, found=value)
            if value not in out:
                out.append(value)
        return out

    def ident(self, elem, path: str, what: str) -> str | None:
        value = elem.get("numero")
        if value is None:
            return None
        canonical, reason = id_problem(value)  # the project's one id rule (referentiels.ids)
        if reason is not None:
            self.refuse(path, elem, f"bad {what} id (attribute numero): {reason}", expected=RULE, found=value)
        return canonical

    def address(self, elem, path: str) -> tuple[list[str], str, str, float | None, float | None]:
        """<adresse>: (lines, postcode, city, lat, lon)."""
        k = self.kids(elem)
        lines = [self.text(e) for e in k.get("ligne", []) if self.text(e)]
        postcode_elem = self.one(k, "codepostal", path, elem)
        postcode = self.text(postcode_elem)
        if not _POSTCODE.match(postcode):
            self.refuse(f"{path}/codepostal", postcode_elem, "bad <codepostal>", expected="5 digits", found=postcode)
        city = self.text(self.one(k, "ville", path, elem))
        if not city:
            self.refuse(f"{path}/ville", elem, "empty <ville>", expected="a city name", found="")
        lat = lon = None
        geo = k.get("geolocalisation")
        if geo:
            gk = self.kids(geo[0])
            lat = self.number(gk, "latitude", f"{path}/geolocalisation", geo[0], -90.0, 90.0)
            lon = self.number(gk, "longitude", f"{path}/geolocalisation", geo[0], -180.0, 180.0)
        return lines, postcode, city, lat, lon

    def number(self, kids, name, path, parent, low: float, high: float) -> float:
        elem = self.one(kids, name, path, parent)
        value = self.text(elem).replace(",", ".")
        try:
            x = float(value)
        except ValueError:
            x = float("nan")
        if not (low <= x <= high):  # also NaN
            self.refuse(f"{path}/{name}", elem, f"bad <{name}>", expected=f"decimal degrees between {low:g} and {high:g}",
                        found=value)
        return x

    def integer(self, elem, path: str, expected: str = "an integer between 0 and 99999") -> int | None:
        if elem is None:
            return None
        value = self.text(elem)
        if not _INT.match(value):
            self.refuse(path, elem, f"bad <{path.rsplit('/', 1)[-1]}>", expected=expected, found=value)
        return int(value)

    def key(self, kids, name, path, parent, allowed: Iterable[str], *, required: bool) -> str | None:
        elem = self.one(kids, name, path, parent, required=required)
        if elem is None:
            return None
        value = self.text(elem)
        allowed = tuple(allowed)
        if value not in allowed:
            self.refuse(f"{path}/{name}", elem, f"bad <{name}>", expected="one of " + ", ".join(allowed), found=value)
        return value

    def kept(self, kids, names) -> dict[str, str]:
        out = {}
        for name in names:
            elems = kids.get(name)
            if elems:
                out[name] = self.text(elems[0])
        return out

    # -- records --
    def formation(self, f, fi: int) -> None:
        path = f"/lheo/offres/formation[{fi}]"
        try:
            common, actions = self.formation_fields(f, path, fi)
        except _Refused as refused:
            self.problem(refused.problem)
            return
        for ai, a in enumerate(actions, start=1):
            apath = f"{path}/action[{ai}]"
            try:
                row, sessions = self.action(a, apath, ai, common)
            except _Refused as refused:
                self.problem(refused.problem)
                continue
            kept = []
            for si, s in enumerate(sessions, start=1):
                try:
                    session = self.session(s, f"{apath}/session[{si}]", si, row["id"])
                except _Refused as refused:
                    self.problem(refused.problem)
                    continue
                kept.append(session)
                self.session_ids.add(session["id"])
            if not kept:  # every session refused: an action needs at least one ([1,N])
                self.problem(LheoProblem(apath, a.sourceline, "no valid session: the action is left out",
                                         "at least one valid <session> in <action>", f"{len(sessions)} refused"))
                continue
            self.trainings.append(row)
            self.action_ids.add(row["id"])
            self.sessions.extend(kept)

    def problem(self, problem: LheoProblem) -> None:
        if self.mode == "all":
            raise problem.error(self.file)
        self.problems.append(problem)

    def formation_fields(self, f, path: str, fi: int) -> tuple[dict, list]:
        k = self.kids(f)
        numero = self.ident(f, path, "formation") or f"F{fi}"
        domain = self.one(k, "domaine-formation", path, f)
        dk = self.kids(domain)
        dpath = f"{path}/domaine-formation"
        formacodes = self.codes(dk, "code-FORMACODE", dpath, _FORMACODE, "a FORMACODE of 5 digits such as 22454", 5)
        nsf = self.codes(dk, "code-NSF", dpath, _NSF, "an NSF code of 3 characters such as 254", 3)
        rome = self.codes(dk, "code-ROME", dpath, _ROME, "a ROME code such as H2913 (a letter A-N and 4 digits)", 5)
        rncp, certifications, certifinfo = [], [], False
        for ci, cert in enumerate(k.get("certification", []), start=1):
            ck, cpath = self.kids(cert), f"{path}/certification[{ci}]"
            codes = self.codes(ck, "code-RNCP", cpath, _RNCP, "an RNCP code of 1 to 10 letters or digits", 1)
            info = self.codes(ck, "code-CERTIFINFO", cpath, _CERTIFINFO, "a CERTIFINFO code of 1 to 10 digits", 1)
            rncp += [c for c in codes if c not in rncp]
            certifications.append(f"{''.join(codes)}|{''.join(info)}")
            certifinfo = certifinfo or bool(info)
        certifying = self.key(k, "certifiante", path, f, ("0", "1"), required=False)
        org = self.one(k, "organisme-formation-responsable", path, f)
        ok = self.kids(org)
        opath = f"{path}/organisme-formation-responsable"
        siret_parent = self.one(ok, "SIRET-organisme-formation", opath, org)
        siret_elem = self.one(self.kids(siret_parent), "SIRET", f"{opath}/SIRET-organisme-formation", siret_parent)
        siret = self.text(siret_elem)
        if not _SIRET.match(siret):
            self.refuse(f"{opath}/SIRET-organisme-formation/SIRET", siret_elem, "bad <SIRET>", expected="14 digits",
                        found=siret)
        kept = self.kept(k, KEPT_FORMATION) | self.kept(ok, KEPT_ORGANISATION)
        if certifinfo:  # each <certification> as "RNCP|CERTIFINFO" (either may be empty), in file order
            kept["certification"] = certifications
        if formacodes and dk["code-FORMACODE"][0].get("ref"):
            kept["code-FORMACODE@ref"] = dk["code-FORMACODE"][0].get("ref")
        kept["code-ROME@ref"] = dk["code-ROME"][0].get("ref") if rome else None  # absent: ROME V3 (documentation)
        common = {
            "formation": numero,
            "title": self.required_text(k, "intitule-formation", path, f, max_chars=255),
            "objective": self.required_text(k, "objectif-formation", path, f, max_chars=3000),
            "content": self.required_text(k, "contenu-formation", path, f, max_chars=3000),
            "results": self.text(k.get("resultats-attendus", [None])[0]) or None,
            "occupations": rome, "formacodes": formacodes, "nsf": nsf, "rncp": rncp,
            "certifying": None if certifying is None else certifying == "1",
            "organisation": self.required_text(ok, "nom-organisme", opath, org, max_chars=250), "siret": siret,
            "url_formation": self.urls(k, "url-formation", path), "_kept": kept,
        }
        actions = k.get("action", [])
        if not actions:
            self.refuse(path, f, "missing mandatory element <action>", expected="at least one <action> in <formation>",
                        found="")
        return common, actions

    def action(self, a, path: str, ai: int, common: dict) -> tuple[dict, list]:
        k = self.kids(a)
        numero = self.ident(a, path, "action") or f"{common['formation']}-A{ai}"
        if numero in self.action_ids:
            self.refuse(path, a, "duplicate action id (attribute numero)", expected="an id used once in the file",
                        found=numero)
        mode = int(self.key(k, "modalites-enseignement", path, a, ("0", "1", "2"), required=True))
        entry = self.key(k, "modalites-entrees-sorties", path, a, ("0", "1"), required=True)
        lieux = k.get("lieu-de-formation", [])
        lines, postcode, city, lat, lon = [], None, None, None, None
        if lieux:
            lpath = f"{path}/lieu-de-formation"
            coord = self.one(self.kids(lieux[0]), "coordonnees", lpath, lieux[0])
            adresse = self.kids(coord).get("adresse")
            if adresse:
                lines, postcode, city, lat, lon = self.address(adresse[0], f"{lpath}/coordonnees/adresse")
        elif self.prefix == "{" + NAMESPACES["2.2"] + "}":  # [1,1] in 2.2, [0,N] since 2.3
            self.refuse(path, a, "missing mandatory element <lieu-de-formation>",
                        expected="<lieu-de-formation> in <action> (LHEO 2.2)", found="")
        other_places = []
        for li, lieu in enumerate(lieux[1:], start=2):  # the first is the place; the others are kept
            lpath = f"{path}/lieu-de-formation[{li}]"
            coord = self.one(self.kids(lieu), "coordonnees", lpath, lieu)
            adresse = self.kids(coord).get("adresse")
            if adresse:
                p_lines, p_code, p_city, p_lat, p_lon = self.address(adresse[0], f"{lpath}/coordonnees/adresse")
                other_places.append(json.dumps({"lines": p_lines, "postcode": p_code, "city": p_city, "lat": p_lat,
                                                "lon": p_lon}, ensure_ascii=False))
        hourly = None
        hourly_elem = k.get("prix-horaire-TTC")
        if hourly_elem:
            text = self.text(hourly_elem[0])
            if not _DECIMAL.match(text) or len(text) > 6:
                self.refuse(f"{path}/prix-horaire-TTC", hourly_elem[0], "bad <prix-horaire-TTC>",
                            expected="a price in euros of 1 to 6 characters such as 45 or 12.50", found=text)
            hourly = float(text.replace(",", "."))
        trainer_siret = trainer_name = None
        trainer = k.get("organisme-formateur")
        if trainer:
            tpath, tk = f"{path}/organisme-formateur", self.kids(trainer[0])
            siret_parent = self.one(tk, "SIRET-formateur", tpath, trainer[0])
            siret_elem = self.one(self.kids(siret_parent), "SIRET", f"{tpath}/SIRET-formateur", siret_parent)
            trainer_siret = self.text(siret_elem)
            if not _SIRET.match(trainer_siret):
                self.refuse(f"{tpath}/SIRET-formateur/SIRET", siret_elem, "bad <SIRET>", expected="14 digits",
                            found=trainer_siret)
            self.one(tk, "raison-sociale-formateur", tpath, trainer[0])
            trainer_name = self.optional_text(tk, "raison-sociale-formateur", tpath, max_chars=250, min_chars=0)
        hours_elem = k.get("nombre-heures-total", [None])[0]
        hours = self.integer(hours_elem, f"{path}/nombre-heures-total")
        cost = None
        price = k.get("prix-total-TTC")
        if price:
            text = self.text(price[0])
            if not _DECIMAL.match(text):
                self.refuse(f"{path}/prix-total-TTC", price[0], "bad <prix-total-TTC>",
                            expected="a price in euros such as 4500.00", found=text)
            cost = float(text.replace(",", "."))
        funders, places = [], []
        financers = k.get("organisme-financeur", [])
        for fi, fin in enumerate(financers, start=1):
            fpath = f"{path}/organisme-financeur[{fi}]"
            fk = self.kids(fin)
            code_elem = self.one(fk, "code-financeur", fpath, fin)
            code = self.text(code_elem)
            if not re.match(r"^[0-9]{1,2}$", code):
                self.refuse(f"{fpath}/code-financeur", code_elem, "bad <code-financeur>",
                            expected="a key of dict-financeurs such as 2 (Conseil régional) or 4 (Pôle emploi)",
                            found=code)
            funders.append(code)
            places.append(self.integer(fk.get("nb-places-financees", [None])[0], f"{fpath}/nb-places-financees"))
        given = [p for p in places if p is not None]
        sessions = k.get("session", [])
        if not sessions:
            self.refuse(path, a, "missing mandatory element <session>", expected="at least one <session> in <action>",
                        found="")
        kept = dict(common["_kept"]) | self.kept(k, KEPT_ACTION)
        publics = [self.text(e) for e in k.get("code-public-vise", []) if self.text(e)]
        if publics:
            kept["code-public-vise"] = publics
            ref = k["code-public-vise"][0].get("ref")
            if ref:
                kept["code-public-vise@ref"] = ref
        signature = tuple((key, tuple(v) if isinstance(v, list) else v) for key, v in sorted(kept.items()))
        kept_json = self.kept_json.get(signature)
        if kept_json is None:  # the same few combinations repeat across a regional flux
            kept_json = self.kept_json[signature] = json.dumps(kept, ensure_ascii=False, sort_keys=True)
        row = {key: value for key, value in common.items() if not key.startswith("_")}
        row.update({
            "id": numero, "teaching_mode": mode, "remote": mode == 2, "permanent_entry": entry == "1",
            "address_lines": lines, "postcode": postcode, "city": city, "lat": lat, "lon": lon,
            "hours": None if hours is None else float(hours), "cost": cost, "funders": funders,
            "funder_places": places, "places": sum(given) if given else None,
            "url_action": self.urls(k, "url-action", path),
            "recruitment_scope": self.key(k, "code-perimetre-recrutement", path, a, RECRUITMENT_SCOPES, required=False),
            "hourly_price": hourly,
            "indicative_duration": self.optional_text(k, "duree-indicative", path, max_chars=150, min_chars=0),
            "hours_centre": self.integer(k.get("nombre-heures-centre", [None])[0], f"{path}/nombre-heures-centre"),
            "hours_company": self.integer(k.get("nombre-heures-entreprise", [None])[0],
                                          f"{path}/nombre-heures-entreprise"),
            "disabled_access": self.optional_text(k, "acces-handicapes", path, max_chars=250, min_chars=0),
            "trainer_siret": trainer_siret, "trainer_name": trainer_name, "other_places": other_places,
            "kept": kept_json, "line": a.sourceline,
        })
        return row, sessions

    def session(self, s, path: str, si: int, training: str) -> dict:
        k = self.kids(s)
        numero = self.ident(s, path, "session") or f"{training}-S{si}"
        if numero in self.session_ids:
            self.refuse(path, s, "duplicate session id (attribute numero)", expected="an id used once in the file",
                        found=numero)
        periode = self.one(k, "periode", path, s)
        (start, start_p), (end, end_p) = self.period(periode, f"{path}/periode")
        registration = (None, None), (None, None)
        inscription_period = k.get("periode-inscription")
        if inscription_period:
            ipath = f"{path}/periode-inscription"
            registration = self.period(self.one(self.kids(inscription_period[0]), "periode", ipath,
                                                inscription_period[0]), f"{ipath}/periode")
        inscription = self.one(k, "adresse-inscription", path, s)
        ipath = f"{path}/adresse-inscription"
        adresse = self.one(self.kids(inscription), "adresse", ipath, inscription)
        lines, postcode, city, _, _ = self.address(adresse, f"{ipath}/adresse")
        state = self.key(k, "etat-recrutement", path, s, RECRUITING_STATES, required=False)
        capacity = None
        for extras in k.get("extras", []):
            if extras.get("info") == "passerelles":
                for extra in self.kids(extras).get("extra", []):
                    if extra.get("info") == "capacite":
                        capacity = self.integer(extra, f"{path}/extras/extra[@info='capacite']")
        return {"id": numero, "training": training, "start": start, "start_precision": start_p, "end": end,
                "end_precision": end_p, "state": None if state is None else RECRUITING_STATES[state],
                "registration_lines": lines, "registration_postcode": postcode, "registration_city": city,
                "capacity": capacity,
                "registration_terms": self.optional_text(k, "modalites-inscription", path, max_chars=255),
                "registration_from": registration[0][0], "registration_from_precision": registration[0][1],
                "registration_to": registration[1][0], "registration_to_precision": registration[1][1],
                "line": s.sourceline}


def _open(source: str | Path | bytes | IO[bytes], name: str | None) -> tuple[IO[bytes], str, bool]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), name or "<body>", True
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            return path.open("rb"), name or str(path), True
        except FileNotFoundError:
            raise ReferentielError("file not found", file=name or str(path), expected="an existing LHEO XML file") from None
        except IsADirectoryError:
            raise ReferentielError("a folder, not a file", file=name or str(path), expected="an LHEO XML file") from None
    return source, name or getattr(source, "name", "<stream>"), False


def _refuse_doctype(tree, file: str) -> None:
    info = tree.docinfo
    if info.internalDTD is not None or info.system_url or info.public_id or (info.doctype or "").strip():
        raise ReferentielError("refused: the document declares a DOCTYPE (entities, external DTD)", file=file,
                               line=1, expected="an LHEO document without DOCTYPE: entity declarations are never "
                               "expanded (XML bomb, external entities)", found=(info.doctype or "")[:80])


def read_lheo(source: str | Path | bytes | IO[bytes], *, mode: str = "valid", name: str | None = None) -> LheoOffer:
    """Read an LHEO 2.2 or 2.3 document (a path, bytes or a binary stream) into an :class:`LheoOffer`.

    ``mode="valid"``: records with a bad value are left out and listed in ``problems``;
    ``mode="all"``: the first bad value refuses the file. Raises ``ReferentielError`` (naming the
    file, the line and the element path) on malformed XML, a DOCTYPE, an unknown root or namespace,
    and in ``mode="all"`` on any problem. The whole offer in memory: :func:`iter_lheo` gives it
    in batches.
    """
    trainings, sessions, last = [], [], None
    for batch in iter_lheo(source, mode=mode, name=name):
        trainings.append(batch.trainings)
        sessions.append(batch.sessions)
        last = batch
    assert last is not None  # iter_lheo yields at least one batch or raises
    return LheoOffer(trainings=pl.concat(trainings, rechunk=False), sessions=pl.concat(sessions, rechunk=False),
                     problems=last.problems, version=last.version, file=last.file, formations=last.formations)


def iter_lheo(source: str | Path | bytes | IO[bytes], *, mode: str = "valid", name: str | None = None,
              batch_actions: int = CHUNK_ROWS) -> Iterator[LheoOffer]:
    """:func:`read_lheo` in batches: yields an :class:`LheoOffer` of about ``batch_actions`` actions
    (whole formations: an action and its sessions, the actions of one formation, are always in the
    same batch) as soon as they are read, so the caller (a catalogue import, a store write) holds
    one batch at a time. Each batch's ``problems`` are those found so far (the list grows; the last
    batch has them all), ``formations`` the formations read so far. At least one batch (possibly
    empty when every record of the last part was left out) is yielded unless an error is raised;
    the errors are :func:`read_lheo`'s and are raised when met (a batch already yielded stays
    yielded: a caller writing batches does it in one transaction).
    """
    from lxml import etree

    if mode not in MODES:
        raise ReferentielError(f"unknown mode {mode!r}", expected="valid or all", found=str(mode))
    stream, file, owned = _open(source, name)
    tags = [f"{{{ns}}}formation" for ns in NAMESPACES.values()]
    context = etree.iterparse(stream, events=("end",), tag=tags, resolve_entities=False, no_network=True,
                              load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True,
                              remove_pis=True)
    reader: _Reader | None = None
    version, formations, actions = None, 0, 0

    def batch() -> LheoOffer:
        t, s = reader.frames()
        reader.training_chunks, reader.session_chunks = [], []
        return LheoOffer(trainings=t, sessions=s, problems=reader.problems, version=version, file=file,
                         formations=formations)

    try:
        for _, f in context:
            if reader is None:
                tree = f.getroottree()
                _refuse_doctype(tree, file)
                root = tree.getroot()
                ns = etree.QName(root).namespace
                if etree.QName(root).localname != "lheo" or ns not in VERSION_OF:
                    _bad_root(root, file)
                version = VERSION_OF[ns]
                reader = _Reader(file, mode, ns)
            parent = f.getparent()
            if parent is None or parent.tag != reader.prefix + "offres" or parent.getparent() is None \
                    or parent.getparent().getparent() is not None:
                raise ReferentielError("misplaced <formation>", file=file, line=f.sourceline,
                                       column=_path_of(f, reader.cut), expected="<formation> inside <lheo><offres>",
                                       found=_path_of(f, reader.cut))
            formations += 1
            reader.formation(f, formations)
            f.clear(keep_tail=False)
            while f.getprevious() is not None:
                del parent[0]
            if len(reader.trainings) >= batch_actions:
                actions += len(reader.trainings)
                yield batch()
        root = getattr(context, "root", None)
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        text = str(error.msg or error)
        if "entity" in text.lower():
            raise ReferentielError("refused: entity references (XML bomb or external entity)", file=file, line=line,
                                   expected="an LHEO document without DOCTYPE or entities", found=text[:120]) from None
        raise ReferentielError(f"malformed XML: {text}", file=file, line=line,
                               expected="a well-formed LHEO XML document") from None
    finally:
        if owned:
            stream.close()
    if reader is None:  # no formation: say why
        if root is None:
            raise ReferentielError("the file is empty", file=file, expected="an LHEO XML document", found="")
        _refuse_doctype(root.getroottree(), file)
        qn = etree.QName(root)
        if qn.localname != "lheo" or qn.namespace not in VERSION_OF:
            _bad_root(root, file)
        raise ReferentielError("no <formation>", file=file, line=root.sourceline, column="/lheo/offres",
                               expected="at least one <formation> in <offres>", found="")
    actions += len(reader.trainings)
    if not actions and reader.problems:
        first = reader.problems[0]
        raise ReferentielError(f"no valid action; first problem: {first.message}", file=file, line=first.line,
                               column=first.path, expected=first.expected, found=first.found)
    yield batch()


_ARROW_TYPES = {pl.String: "string", pl.Boolean: "bool_", pl.Int8: "int8", pl.Int64: "int64",
                pl.Float64: "float64", pl.Date: "date32"}


def frame_of(rows: list[dict], schema: dict) -> pl.DataFrame:
    """Rows -> a typed frame, column by column through pyarrow (its C++ conversion of Python lists of
    lists and dates is an order of magnitude faster than building polars series from them)."""
    import pyarrow as pa

    if not rows:
        return pl.DataFrame(schema=schema)
    arrays, names = [], []
    for name, dtype in schema.items():
        if isinstance(dtype, pl.List) and dtype.inner == pl.Date:
            kind = pa.list_(pa.date32())
        elif isinstance(dtype, pl.List):
            kind = pa.list_(getattr(pa, _ARROW_TYPES[dtype.inner])())
        else:
            kind = getattr(pa, _ARROW_TYPES[dtype])()
        arrays.append(pa.array([r.get(name) for r in rows], type=kind))
        names.append(name)
    return pl.from_arrow(pa.Table.from_arrays(arrays, names=names)).cast(schema)


def _path_of(elem, cut: int) -> str:
    parts = []
    while elem is not None:
        tag = elem.tag
        parts.append(tag[cut:] if isinstance(tag, str) and tag.startswith("{") else str(tag))
        elem = elem.getparent()
    return "/" + "/".join(reversed(parts))


def _bad_root(root, file: str) -> None:
    from lxml import etree

    qn = etree.QName(root)
    found = f"<{qn.localname}>" + (f" in namespace {qn.namespace}" if qn.namespace else " without namespace")
    raise ReferentielError("not an LHEO document", file=file, line=root.sourceline, column="/",
                           expected="root <lheo> in namespace " + " or ".join(NAMESPACES.values()), found=found)


# ---- writing -------------------------------------------------------------------------------------

def _clean(value: object) -> str:
    """Text for XML: characters XML 1.0 cannot carry are dropped (the library escapes the rest)."""
    return _XML_INVALID.sub("", str(value))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"


def write_lheo(trainings: pl.DataFrame, sessions: pl.DataFrame, out: str | Path | IO[bytes], *,
               version: str = "2.3") -> int:
    """Write LHEO ``version`` ("2.2" or "2.3") for ``trainings`` (``TRAINING_SCHEMA`` columns) and
    their ``sessions`` (``SESSION_SCHEMA``) to a path or binary stream; returns the formations written.

    Actions sharing a ``formation`` are written under one ``<formation>`` (its fields from the first
    of them, in frame order). Elements are written in the documented order; text is escaped by lxml.
    """
    from lxml import etree

    if version not in NAMESPACES:
        raise ReferentielError(f"unknown LHEO version {version!r}", expected="2.2 or 2.3", found=str(version))
    ns = NAMESPACES[version]
    q = lambda name: f"{{{ns}}}{name}"  # noqa: E731
    rows = trainings.select([c for c in TRAINING_SCHEMA if c in trainings.columns]).to_dicts()
    by_training: dict[str, list[dict]] = {}
    for s in sessions.to_dicts():
        by_training.setdefault(s["training"], []).append(s)
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("formation") or r["id"], []).append(r)

    def sub(parent, name: str, text: object | None = None, **attrib):
        e = etree.SubElement(parent, q(name), {k.replace("_", "-"): _clean(v) for k, v in attrib.items() if v})
        if text is not None:
            e.text = _clean(text)
        return e

    def address(parent, lines, postcode, city, lat=None, lon=None):
        a = sub(parent, "adresse")
        for line in (lines or [])[:4] or [city or ""]:
            sub(a, "ligne", line)
        sub(a, "codepostal", postcode or "")
        sub(a, "ville", city or "")
        if lat is not None and lon is not None:
            g = sub(a, "geolocalisation")
            sub(g, "latitude", repr(float(lat)))
            sub(g, "longitude", repr(float(lon)))
        return a

    count = 0
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(q("lheo"), nsmap={None: ns}):
            with xf.element(q("offres")):
                for formation_id, actions in groups.items():
                    first = actions[0]
                    kept = json.loads(first.get("kept") or "{}")
                    f = etree.Element(q("formation"), nsmap={None: ns})
                    f.set("numero", _clean(formation_id))
                    d = sub(f, "domaine-formation")
                    for c in first.get("formacodes") or []:
                        sub(d, "code-FORMACODE", c, ref=kept.get("code-FORMACODE@ref"))
                    for c in first.get("nsf") or []:
                        sub(d, "code-NSF", c)
                    for c in first.get("occupations") or []:
                        sub(d, "code-ROME", c, ref=kept["code-ROME@ref"] if "code-ROME@ref" in kept else "V4")
                    sub(f, "intitule-formation", first["title"])
                    sub(f, "objectif-formation", first.get("objective") or first["title"])
                    if first.get("results"):
                        sub(f, "resultats-attendus", first["results"])
                    sub(f, "contenu-formation", first.get("content") or first["title"])
                    if first.get("certifying") is not None:
                        sub(f, "certifiante", "1" if first["certifying"] else "0")
                    for name in ("parcours-de-formation", "code-niveau-entree"):
                        if name in kept:
                            sub(f, name, kept[name])
                    if "certification" in kept:  # read with CERTIFINFO codes: given back as they were
                        for pair in kept["certification"]:
                            code, info = pair.split("|", 1)
                            c = sub(f, "certification")
                            if code:
                                sub(c, "code-RNCP", code)
                            if info:
                                sub(c, "code-CERTIFINFO", info)
                    else:
                        for code in first.get("rncp") or []:
                            sub(sub(f, "certification"), "code-RNCP", code)
                    if "code-niveau-sortie" in kept:
                        sub(f, "code-niveau-sortie", kept["code-niveau-sortie"])
                    _write_urls(sub, f, "url-formation", first.get("url_formation"))
                    for r in actions:
                        _write_action(sub, address, f, r, by_training.get(r["id"], []), places=version != "2.2")
                    o = sub(f, "organisme-formation-responsable")
                    if "numero-activite" in kept:
                        sub(o, "numero-activite", kept["numero-activite"])
                    sub(sub(o, "SIRET-organisme-formation"), "SIRET", first.get("siret") or "")
                    sub(o, "nom-organisme", first.get("organisation") or "")
                    sub(o, "raison-sociale", kept.get("raison-sociale") or first.get("organisation") or "")
                    xf.write(f)
                    count += 1
    return count


def _write_urls(sub, parent, name: str, urls: list[str] | None) -> None:
    if urls:
        u = sub(parent, name)
        for url in urls[:3]:
            sub(u, "urlweb", url)


def _write_action(sub, address, f, r: dict, sessions: list[dict], *, places: bool = True) -> None:
    """One <action>; ``places``: its further places too (LHEO 2.3; 2.2 allows one ``lieu-de-formation``)."""
    kept = json.loads(r.get("kept") or "{}")
    a = sub(f, "action", numero=r["id"])
    if "rythme-formation" in kept:
        sub(a, "rythme-formation", kept["rythme-formation"])
    for code in kept.get("code-public-vise", []):
        sub(a, "code-public-vise", code, ref=kept.get("code-public-vise@ref"))
    for name in ("niveau-entree-obligatoire", "modalites-alternance"):
        if name in kept:
            sub(a, name, kept[name])
    mode = r.get("teaching_mode")
    sub(a, "modalites-enseignement", str(int(mode)) if mode is not None else ("2" if r.get("remote") else "0"))
    for name in ("conditions-specifiques", "prise-en-charge-frais-possible"):
        if name in kept:
            sub(a, name, kept[name])
    if r.get("postcode") and r.get("city"):
        lieu = sub(a, "lieu-de-formation")
        address(sub(lieu, "coordonnees"), r.get("address_lines"), r["postcode"], r["city"], r.get("lat"), r.get("lon"))
    for other in (r.get("other_places") or []) if places else []:
        p = json.loads(other)
        address(sub(sub(a, "lieu-de-formation"), "coordonnees"), p.get("lines"), p.get("postcode"), p.get("city"),
                p.get("lat"), p.get("lon"))
    sub(a, "modalites-entrees-sorties", "1" if r.get("permanent_entry") else "0")
    _write_urls(sub, a, "url-action", r.get("url_action"))
    for s in sessions:
        e = sub(a, "session", numero=s["id"])
        p = sub(e, "periode")
        sub(p, "debut", format_lheo_date(s.get("start"), s.get("start_precision")))
        sub(p, "fin", format_lheo_date(s.get("end"), s.get("end_precision"), end=True))
        address(sub(e, "adresse-inscription"), s.get("registration_lines"), s.get("registration_postcode"),
                s.get("registration_city"))
        if s.get("registration_terms") is not None:
            sub(e, "modalites-inscription", s["registration_terms"])
        if s.get("registration_from_precision") or s.get("registration_to_precision") or \
                s.get("registration_from") or s.get("registration_to"):
            p = sub(sub(e, "periode-inscription"), "periode")
            sub(p, "debut", format_lheo_date(s.get("registration_from"), s.get("registration_from_precision")))
            sub(p, "fin", format_lheo_date(s.get("registration_to"), s.get("registration_to_precision"), end=True))
        if s.get("state"):
            sub(e, "etat-recrutement", STATE_CODES[s["state"]])
        if s.get("capacity") is not None:
            sub(sub(e, "extras", info="passerelles"), "extra", str(int(s["capacity"])), info="capacite")
    if r.get("disabled_access") is not None:
        sub(a, "acces-handicapes", r["disabled_access"])
    if r.get("recruitment_scope") is not None:
        sub(a, "code-perimetre-recrutement", r["recruitment_scope"])
    if r.get("hourly_price") is not None:
        sub(a, "prix-horaire-TTC", _num(r["hourly_price"]))
    if r.get("cost") is not None:
        sub(a, "prix-total-TTC", _num(r["cost"]))
    if r.get("indicative_duration") is not None:
        sub(a, "duree-indicative", r["indicative_duration"])
    for key, name in (("hours_centre", "nombre-heures-centre"), ("hours_company", "nombre-heures-entreprise")):
        if r.get(key) is not None:
            sub(a, name, str(int(r[key])))
    if r.get("hours") is not None:
        sub(a, "nombre-heures-total", str(int(round(r["hours"]))))
    if r.get("trainer_siret") is not None:
        t = sub(a, "organisme-formateur")
        sub(sub(t, "SIRET-formateur"), "SIRET", r["trainer_siret"])
        sub(t, "raison-sociale-formateur", r.get("trainer_name") or "")
    places = r.get("funder_places") or []
    for i, code in enumerate(r.get("funders") or []):
        o = sub(a, "organisme-financeur")
        sub(o, "code-financeur", code)
        if i < len(places) and places[i] is not None:
            sub(o, "nb-places-financees", str(int(places[i])))


def lheo_bytes(trainings: pl.DataFrame, sessions: pl.DataFrame, *, version: str = "2.3") -> bytes:
    """``write_lheo`` into memory."""
    buffer = io.BytesIO()
    write_lheo(trainings, sessions, buffer, version=version)
    return buffer.getvalue()


def looks_like_lheo(head: bytes) -> bool:
    """True when the first bytes of a body look like XML (used to route a body to this reader)."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped.startswith(b"<")


__all__ = ["FUNDERS", "KEPT_ACTION", "KEPT_FORMATION", "KEPT_ORGANISATION", "LheoOffer", "LheoProblem", "MODES",
           "NAMESPACES", "RECRUITING_STATES", "SESSION_SCHEMA", "TEACHING_MODES", "TRAINING_SCHEMA",
           "format_lheo_date", "frame_of", "iter_lheo", "lheo_bytes", "looks_like_lheo", "parse_lheo_date", "read_lheo", "write_lheo"]
