"""'Did you mean ...?': the closest codes or labels to an unknown value (rapidfuzz)."""

from __future__ import annotations

from rapidfuzz import fuzz, process, utils


class CodeSuggester:
    """Suggest known (code, label) pairs close to a mistyped code or a label fragment."""

    def __init__(self, codes: list[str], labels: list[str]) -> None:
        self.codes = codes
        self.labels = labels
        self._codes_upper = [c.upper() for c in codes]

    def suggest(self, value: str, k: int = 5) -> list[dict]:
        value = (value or "")[:200]
        by_code = process.extract(value.upper(), self._codes_upper, scorer=fuzz.ratio, limit=k)
        by_label = process.extract(value, self.labels, scorer=fuzz.WRatio, processor=utils.default_process,
                                   limit=k)
        best: dict[int, float] = {}
        for _, score, i in by_code:
            best[i] = max(best.get(i, 0.0), score)
        for _, score, i in by_label:
            best[i] = max(best.get(i, 0.0), score * 0.9)
        ranked = sorted(best.items(), key=lambda item: (-item[1], self.codes[item[0]]))[:k]
        return [{"code": self.codes[i], "label": self.labels[i], "score": round(s / 100, 3)} for i, s in ranked]
