"""``passerelles normalise titles|skills FILE --out OUT``: a file of free texts to referential codes.

FILE is CSV (UTF-8, header on line 1), Parquet, or plain text (``.txt``: one text per line). The
column read is ``--column``, else ``title`` (``skill`` for skills) when present, else the first one.
OUT is CSV or Parquet (by its extension), one row per input row, in order::

    title, code, label, score, confident, matched, code_2, label_2, score_2, ..., code_k, label_k, score_k

``code`` is the best candidate (check ``confident``: below the threshold it is only a suggestion).
The CSV is for people: a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR gets a
``'`` in front so no spreadsheet reads it as a formula (``api.storage.exports``); Parquet is raw.
An empty, too long (> 500 characters) or binary text stops the command with exit status 2 and the
file and line that hold it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import polars as pl
import typer

import referentiels
from matching.normalise import InvalidText, Match, SkillNormaliser, TitleNormaliser, validate_text

from api.cli.common import SourceOption, UsageError, json_lines, read_csv_text, read_text_file
from api.storage import exports

app = typer.Typer()

normalise_app = typer.Typer(help="Free text to codes: job titles and skill phrases, as people type them.",
                            no_args_is_help=True)
app.add_typer(normalise_app, name="normalise")

KOption = Annotated[int, typer.Option("--k", "-k", min=1, max=50, help="Candidates per text (1-50).")]
OutOption = Annotated[Path, typer.Option("--out", "-o", help="Output file: .csv or .parquet.")]
ColumnOption = Annotated[Optional[str], typer.Option("--column", "-c", help="Column of FILE holding the texts.")]
WorkersOption = Annotated[int, typer.Option("--workers", help="Threads for fuzzy matching (-1: all cores).")]
OUTPUT_SUFFIXES = (".csv", ".parquet")


def read_texts(path: Path, column: str | None, preferred: str) -> tuple[list[str], str, int]:
    """(texts, column name, line of the first text) from a CSV, Parquet or text file."""
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except Exception as error:  # noqa: BLE001 - polars raises several kinds for a bad file
            raise UsageError(f"{path}: not a readable Parquet file ({error.__class__.__name__})") from None
        first_line = 0  # Parquet rows are reported from 0
    else:
        text = read_text_file(path, "texts to normalise")
        if suffix == ".txt":
            frame = pl.DataFrame({preferred: text.splitlines()}, schema={preferred: pl.String})
            first_line = 1
        else:
            frame = read_csv_text(path, text)
            first_line = 2
    if frame.width == 0 or frame.height == 0:
        raise UsageError(f"{path}: no texts to normalise (the file is empty)")
    if column is None:
        column = preferred if preferred in frame.columns else frame.columns[0]
    elif column not in frame.columns:
        raise UsageError(f"{path}: no column {column!r}; columns are {', '.join(map(repr, frame.columns))}")
    values = frame[column].cast(pl.String).to_list()
    return [v if v is not None else "" for v in values], column, first_line


def result_frame(column: str, matches: list[Match], k: int) -> pl.DataFrame:
    """One row per match: the text as given, the best candidate, then candidates 2..k."""
    data: dict[str, list] = {column: [m.text for m in matches]}
    best = [m.candidates[0] if m.candidates else None for m in matches]
    data["code"] = [c.code if c else None for c in best]
    data["label"] = [c.label if c else None for c in best]
    data["score"] = [c.score if c else None for c in best]
    data["confident"] = [m.confident for m in matches]
    data["matched"] = [c.matched if c else None for c in best]
    for rank in range(2, k + 1):
        nth = [m.candidates[rank - 1] if len(m.candidates) >= rank else None for m in matches]
        data[f"code_{rank}"] = [c.code if c else None for c in nth]
        data[f"label_{rank}"] = [c.label if c else None for c in nth]
        data[f"score_{rank}"] = [c.score if c else None for c in nth]
    schema = {name: (pl.Float64 if name.startswith("score") else pl.Boolean if name == "confident" else pl.String)
              for name in data}
    return pl.DataFrame(data, schema=schema)


def _run(kind: str, file: Path, referentiel: str | None, k: int, out: Path, column: str | None,
         workers: int) -> None:
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {out}: expected a .csv or .parquet file name")
    preferred = "title" if kind == "titles" else "skill"
    texts, column, first_line = read_texts(file, column, preferred)
    source = referentiel or "demo"
    loaded = referentiels.load(source)
    normaliser = (TitleNormaliser if kind == "titles" else SkillNormaliser).fit(loaded)
    try:
        for index, text in enumerate(texts):  # every text checked before any encoder work
            validate_text(text, index)
        # With the text encoder (PASSERELLES_ENCODER) where it loads: its vectors of the referential's
        # titles (skill labels) are read from the cache, or built once with progress on stderr (issue 21).
        from api.services.encoding import SemanticSkills, SemanticTitles, encoder_status
        from api.settings import Settings

        settings = Settings()
        status = encoder_status(settings.encoder, settings.encoder_threads)
        encoder_note = f" (with {status.name})" if status.available else " (lexical only: no text encoder)"
        semantic = SemanticTitles if kind == "titles" else SemanticSkills
        normaliser = semantic(loaded, normaliser, status, settings.cache_dir).build()
        matches = normaliser.batch(texts, k=k, workers=workers)
    except InvalidText as error:
        where = f"line {first_line + error.index}" if first_line else f"row {error.index}"
        raise UsageError(f"{file}, {where}, column {column!r}: {error.message}") from None
    frame = result_frame(column, matches, k)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.write_parquet(out)
    else:
        exports.write_csv(frame, out)  # a file people open: texts that start with = + - @ are escaped
    confident = sum(m.confident for m in matches)
    typer.echo(f"normalised {len(matches):,} {kind} against {source}{encoder_note}: {confident:,} confident, "
               f"{len(matches) - confident:,} below {normaliser.threshold:g}; wrote {out}", err=True)


@normalise_app.command("titles")
def normalise_titles(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or .txt file of job titles.")],
    out: OutOption,
    referentiel: SourceOption = None,
    k: KOption = 5,
    column: ColumnOption = None,
    workers: WorkersOption = -1,
) -> None:
    """Job titles as people type them -> occupation codes, one output row per input row."""
    _run("titles", file, referentiel, k, out, column, workers)


@normalise_app.command("skills")
def normalise_skills(
    file: Annotated[Path, typer.Argument(help="CSV, Parquet or .txt file of skill phrases.")],
    out: OutOption,
    referentiel: SourceOption = None,
    k: KOption = 5,
    column: ColumnOption = None,
    workers: WorkersOption = -1,
) -> None:
    """Skill phrases as people type them -> skill codes, one output row per input row."""
    _run("skills", file, referentiel, k, out, column, workers)


def read_offers_file(path: Path) -> tuple[list, int]:
    """(offers, line of the first offer) from a CSV (header ``title`` and optional ``description``,
    ``naf``) or JSON Lines file (one object a line with the same keys)."""

    from matching.offers import OfferText

    text = read_text_file(path, "offers to read")
    offers = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, record in json_lines(path, text, 'a text "title"'):
            if not isinstance(record.get("title"), str):
                raise UsageError(f"{path}, line {number}: expected an object with a text \"title\"")
            description, naf = record.get("description") or "", record.get("naf")
            if not isinstance(description, str) or not (naf is None or isinstance(naf, str)):
                raise UsageError(f"{path}, line {number}: \"description\" and \"naf\" must be text when present")
            offers.append((number, OfferText(record["title"], description, naf)))
        if not offers:
            raise UsageError(f"{path}: no offers to read (no JSON line)")
        return offers, 0
    frame = read_csv_text(path, text)
    if "title" not in frame.columns:
        raise UsageError(f"{path}: no column 'title'; columns are {', '.join(map(repr, frame.columns))}")
    get = lambda name: frame[name].to_list() if name in frame.columns else [None] * frame.height  # noqa: E731
    for number, (title, description, naf) in enumerate(zip(get("title"), get("description"), get("naf")), start=2):
        offers.append((number, OfferText(title or "", description or "", naf)))
    if not offers:
        raise UsageError(f"{path}: no offers to read (the file is empty)")
    return offers, 2


@normalise_app.command("offers")
def normalise_offers(
    file: Annotated[Path, typer.Argument(help="CSV or JSON Lines of job ads: title, optional description and naf.")],
    out: OutOption,
    referentiel: SourceOption = None,
    k: KOption = 5,
    workers: WorkersOption = -1,
) -> None:
    """Whole job ads -> occupation codes, and the skills each description names (with its sentence).

    One output row per input row, in order: title, code, label, score, confident, matched, code_2 ...
    up to k, then naf and skills (JSON: [{code, label, score, sentence}]).
    """
    import json

    from matching.offers import InvalidOffer, check_offers, read_offers

    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {out}: expected a .csv or .parquet file name")
    numbered, _ = read_offers_file(file)
    source = referentiel or "demo"
    loaded = referentiels.load(source)
    titles = TitleNormaliser.fit(loaded)
    try:
        check_offers([o for _, o in numbered])  # every ad checked before any encoder work
        from api.services.encoding import SemanticTitles, encoder_status
        from api.settings import Settings

        settings = Settings()
        status = encoder_status(settings.encoder, settings.encoder_threads)
        titles = SemanticTitles(loaded, titles, status, settings.cache_dir).build()
        results = read_offers(titles, SkillNormaliser.fit(loaded), [o for _, o in numbered], k=k, workers=workers)
    except InvalidOffer as error:
        number = numbered[error.index][0] if error.index is not None else "?"
        raise UsageError(f"{file}, line {number}, {error.field}: {error.message}") from None
    frame = result_frame("title", [r.occupation for r in results], k).with_columns(
        pl.Series("naf", [r.naf for r in results], dtype=pl.String),
        pl.Series("skills", [json.dumps([s.as_dict() for s in r.skills], ensure_ascii=False) for r in results],
                  dtype=pl.String))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.write_parquet(out)
    else:
        exports.write_csv(frame, out)
    found = sum(len(r.skills) for r in results)
    typer.echo(f"read {len(results):,} offers against {source}: {sum(r.occupation.confident for r in results):,} "
               f"confident occupations, {found:,} skills found in the descriptions; wrote {out}", err=True)


def read_profiles_file(path: Path) -> list[tuple[int, str | None, list, str]]:
    """``(line, id or None, experiences, text)`` per JSON line of ``path``: an object with ``experiences``
    (a list of ``{"title", "description"}``), ``text`` and an optional ``id`` (checked, carried)."""

    from matching.profile import Experience
    from referentiels.ids import id_problem

    text = read_text_file(path, "profiles to read")
    profiles = []
    for number, record in json_lines(path, text, '"experiences" and/or "text"'):
        id_ = None
        if record.get("id") is not None:
            id_, reason = id_problem(record["id"])
            if reason is not None:
                raise UsageError(f"{path}, line {number}, id: {reason}")
        experiences = record.get("experiences") or []
        if not isinstance(experiences, list):
            raise UsageError(f"{path}, line {number}, experiences: expected a list of {{\"title\", \"description\"}}")
        read = []
        for i, e in enumerate(experiences):
            if isinstance(e, str):
                e = {"title": e}
            if not isinstance(e, dict) or not isinstance(e.get("title"), str) or not isinstance(
                    e.get("description") or "", str):
                raise UsageError(f"{path}, line {number}, experiences.{i}: expected {{\"title\": text, "
                                 f"\"description\": text}}")
            read.append(Experience(e["title"], e.get("description") or ""))
        said = record.get("text") or ""
        if not isinstance(said, str):
            raise UsageError(f"{path}, line {number}, text: expected text")
        profiles.append((number, id_, read, said))
    if not profiles:
        raise UsageError(f"{path}: no profiles to read (no JSON line)")
    return profiles


@normalise_app.command("profile")
def normalise_profile(
    file: Annotated[Optional[Path], typer.Argument(
        help="JSON Lines, one person a line: {\"id\", \"experiences\": [{\"title\", \"description\"}], \"text\"}.")] = None,
    experience: Annotated[Optional[list[str]], typer.Option(
        "--experience", "-e", help="A past job as typed (repeat, most recent first); instead of FILE.")] = None,
    text: Annotated[str, typer.Option("--text", "-t", help="What the person did, in their words; instead of FILE.")] = "",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output .jsonl (default: standard output).")] = None,
    referentiel: SourceOption = None,
    k: KOption = 5,
    workers: WorkersOption = -1,
) -> None:
    """A person's own words (past jobs, what they did) -> likely occupations and skills, for a seeker's profile.

    One JSON line out per person, in order: occupations (code, label, score, matched, experience),
    experiences (each title's candidates and the skills its description names), skills (code, label,
    score, the phrase and where it was) and seeker (occupation, past_occupations, skills; and id when
    given): the fields of POST /seekers.
    """
    import json

    from matching.profile import Experience, InvalidProfile, check_profile, read_profile

    if file is not None and (experience or text):
        raise UsageError("give either FILE or --experience/--text, not both")
    if file is None and not experience and not text.strip():
        raise UsageError("nothing to read: give FILE, or --experience TITLE and/or --text TEXT")
    if out is not None and out.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        raise UsageError(f"--out {out}: expected a .jsonl file name")
    profiles = (read_profiles_file(file) if file is not None
                else [(0, None, [Experience(e) for e in experience or []], text)])
    where = lambda number: f"{file}, line {number}" if file is not None else "the command line"  # noqa: E731
    for number, _, experiences, said in profiles:  # every profile checked before any encoder work
        try:
            check_profile(experiences, said)
        except InvalidProfile as error:
            raise UsageError(f"{where(number)}, {error.field}: {error.message}") from None
    source = referentiel or "demo"
    loaded = referentiels.load(source)
    from api.services.encoding import SemanticTitles, encoder_status
    from api.settings import Settings

    settings = Settings()
    status = encoder_status(settings.encoder, settings.encoder_threads)
    titles = SemanticTitles(loaded, TitleNormaliser.fit(loaded), status, settings.cache_dir).build()
    skills = SkillNormaliser.fit(loaded)
    lines = []
    for number, id_, experiences, said in profiles:
        result = read_profile(titles, skills, experiences, said, k=k, workers=workers).as_dict()
        if id_ is not None:
            result = {"id": id_, **result, "seeker": {"id": id_, **result["seeker"]}}
        lines.append(json.dumps(result, ensure_ascii=False))
    body = "\n".join(lines) + "\n"
    if out is None:
        typer.echo(body, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(body, encoding="utf-8")
    note = f" (with {status.name})" if status.available else " (lexical only: no text encoder)"
    typer.echo(f"read {len(lines):,} profile(s) against {source}{note}" + (f"; wrote {out}" if out else ""), err=True)
