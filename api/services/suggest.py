"""'Did you mean ...?': the closest codes or labels to an unknown value (rapidfuzz)."""

from __future__ import annotations

from rapidfuzz import fuzz, process, utils


class CodeSuggester:
    """Suggest known (code, label) pairs close to a mistyped code or a label fragment.

    ``normaliser`` (a ``matching.normalise`` Title- or SkillNormaliser over the same codes): when
    given, label fragments are matched by it (titles, gendered forms, typos, abbreviations) instead
    of a plain WRatio over the labels.
    """

    def __init__(self, codes: list[str], labels: list[str], normaliser=None) -> None:
        self.codes = codes
        self.labels = labels
        self._codes_upper = [c.upper() for c in codes]
        self._row = {c: i for i, c in enumerate(codes)}
        self._normaliser = normaliser

    def _by_label(self, value: str, k: int) -> list[tuple[float, int]]:
        if self._normaliser is None:
            return [(score, i) for _, score, i in process.extract(value, self.labels, scorer=fuzz.WRatio,
                                                                  processor=utils.default_process, limit=k)]
        from matching.normalise import InvalidText

        try:
            match = self._normaliser.search(value, k)
        except InvalidText:
            return []
        return [(c.score * 100, self._row[c.code]) for c in match.candidates if c.code in self._row]

    def suggest(self, value: str, k: int = 5) -> list[dict]:
        value = (value or "")[:200]
        by_code = process.extract(value.upper(), self._codes_upper, scorer=fuzz.ratio, limit=k)
        best: dict[int, float] = {}
        for _, score, i in by_code:
            best[i] = max(best.get(i, 0.0), score)
        for score, i in self._by_label(value, k):
            best[i] = max(best.get(i, 0.0), score * 0.9)
        ranked = sorted(best.items(), key=lambda item: (-item[1], self.codes[item[0]]))[:k]
        return [{"code": self.codes[i], "label": self.labels[i], "score": round(s / 100, 3)} for i, s in ranked]
