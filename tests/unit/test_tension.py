"""Tension per basin x occupation and bridges ranked toward tension."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.tension import (in_tension_rows, rank_toward_tension, rerank_toward_tension, tension_of, tension_table,
                              tension_vector, toward_tension)


def frame(pairs):
    return pl.DataFrame({"basin": [p[0] for p in pairs], "occupation": [p[1] for p in pairs]},
                        schema={"basin": pl.String, "occupation": pl.String})


def test_tension_table_counts_and_flags():
    offers = frame([("beauvais", "H2913")] * 6 + [("beauvais", "H2102")] * 2 + [("bordeaux", "H2913")] + [(None, "H2913")])
    seekers = frame([("beauvais", "H2913")] * 1 + [("beauvais", "H2102")] * 9 + [("bordeaux", "N1103")] * 4)
    t = tension_table(offers, seekers)
    row = {(r["basin"], r["occupation"]): r for r in t.iter_rows(named=True)}
    assert row[("beauvais", "H2913")]["offers"] == 6 and row[("beauvais", "H2913")]["seekers"] == 1
    assert row[("beauvais", "H2913")]["tension"] == pytest.approx(7 / 9)
    assert row[("beauvais", "H2913")]["in_tension"] and not row[("beauvais", "H2102")]["in_tension"]
    assert not row[("bordeaux", "H2913")]["in_tension"]  # one offer alone is not a tension
    assert row[("bordeaux", "N1103")]["offers"] == 0 and row[("bordeaux", "N1103")]["tension"] == pytest.approx(1 / 6)
    assert t.filter(pl.col("basin") == "beauvais")["occupation"].to_list() == ["H2913", "H2102"]
    grid = tension_table(offers, seekers, basins=["beauvais"], occupations=["H2913", "I1304"])
    assert grid.height == 2 and grid.filter(pl.col("occupation") == "I1304")["tension"][0] == 0.5
    v = tension_vector(t, "beauvais", ["H2102", "H2913", "I1304"])
    assert v[2] == 0.5 and v[1] > 0.5 > v[0]
    assert in_tension_rows(t, "beauvais", {"H2102": 0, "H2913": 1}).tolist() == [1]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 1000), st.integers(0, 1000), st.integers(1, 100))
def test_tension_is_monotone(o, s, d):
    t = tension_of(o, s)
    assert 0 < t < 1
    assert tension_of(o + d, s) > t and tension_of(o, s + d) < t


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30), st.data(), st.floats(0, 1))
def test_toward_tension_blend(scores, data, weight):
    n = len(scores)
    tension = np.array(data.draw(st.lists(st.floats(0.01, 0.99), min_size=n, max_size=n)))
    s = np.array(scores)
    c = toward_tension(s, tension, weight)
    assert ((c >= 0) & (c <= 1)).all()
    assert np.allclose(toward_tension(s, np.full(n, 0.5), weight), np.clip(s ** (1 - weight), 0, 1), atol=1e-6)
    assert np.allclose(toward_tension(s, tension, 0.0), s.astype(np.float32), atol=1e-6)
    assert (c[s == 0] == 0).all() or weight == 1.0


def test_rank_toward_tension_prefers_tension_at_equal_score():
    scores = np.array([0.5, 0.5, 0.9, 0.1], dtype=np.float32)
    tension = np.array([0.3, 0.8, 0.5, 0.99])
    rows, combined = rank_toward_tension(scores, tension, k=3)
    assert rows.tolist()[:2] == [2, 1] or rows.tolist()[:2] == [1, 2]
    assert rows.tolist().index(1) < rows.tolist().index(0)
    assert np.all(np.diff(combined) <= 0)
    rows, _ = rank_toward_tension(scores, tension, k=4, mask=np.array([True, True, False, True]), min_score=0.2)
    assert rows.tolist() == [1, 0]
    with pytest.raises(ValueError):
        toward_tension(scores, tension, 2.0)


def test_tension_targets_fall_back_to_the_most_tense():
    from matching.tension import tension_targets

    offers = frame([("b", "A")] * 3 + [("b", "B")] * 4 + [("b", "C")] * 1)
    seekers = frame([("b", "A")] * 30 + [("b", "B")] * 10)
    t = tension_table(offers, seekers)
    rows, rule = tension_targets(t, "b", {"A": 0, "B": 1, "C": 2})
    assert rule == "most-tense" and rows.tolist() == [0, 1]  # C has too few offers
    offers = frame([("b", "B")] * 20)
    rows, rule = tension_targets(tension_table(offers, seekers), "b", {"A": 0, "B": 1})
    assert rule == "in-tension" and rows.tolist() == [1]
    assert tension_targets(t, "elsewhere", {"A": 0})[1] == "none"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1, width=32), min_size=1, max_size=60), st.data(), st.floats(0, 1),
       st.integers(1, 70), st.floats(0, 1))
def test_rank_toward_tension_is_the_sorted_blend_of_the_allowed_rows(scores, data, weight, k, min_score):
    """The combined ranking = sort every allowed row by (combined desc, row asc), cut at k."""
    n = len(scores)
    s = np.array(scores, dtype=np.float32)
    tension = np.array(data.draw(st.lists(st.floats(0.01, 0.99), min_size=n, max_size=n)))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    rows, combined = rank_toward_tension(s, tension, k, mask=mask, weight=weight, min_score=min_score)
    c = toward_tension(s, tension, weight)
    allowed = [i for i in range(n) if mask[i] and s[i] >= np.float32(min_score)]
    expected = sorted(allowed, key=lambda i: (-c[i], i))[:k]
    assert rows.tolist() == expected
    assert combined.tolist() == c[expected].tolist()
    if weight == 0:  # no weight on tension: the plain bridge ranking
        assert rows.tolist() == sorted(allowed, key=lambda i: (-s[i], i))[:k]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 1, width=32), min_size=0, max_size=400), st.data(), st.floats(0, 1),
       st.integers(1, 40))
def test_rerank_toward_tension_is_exact_whatever_it_fetches(scores, data, weight, k):
    """Reranking a score-only top-n (fetched in growing batches) gives the full sort's top k."""
    n = len(scores)
    s = np.array(scores, dtype=np.float32)
    tension = np.array(data.draw(st.lists(st.floats(0.01, 0.99), min_size=n, max_size=n)))
    keys = np.arange(n, dtype=np.int64) * 3 + 7
    by_score = np.lexsort((keys, -s))
    fetched = []

    def fetch(m):
        fetched.append(m)
        top = by_score[:m]
        return s[top], keys[top]

    got_keys, got_scores, got_tension, got_combined = rerank_toward_tension(
        fetch, lambda ks: tension[(ks - 7) // 3], k, weight=weight,
        max_tension=float(tension.max()) if n else 1.0, first=data.draw(st.integers(1, 50)))
    c = toward_tension(s, tension, weight)
    expected = sorted(range(n), key=lambda i: (-c[i], keys[i]))[:k]
    assert got_keys.tolist() == keys[expected].tolist()
    assert got_scores.tolist() == s[expected].tolist() and got_combined.tolist() == c[expected].tolist()
    assert got_tension.tolist() == tension[expected].tolist()
    assert fetched == sorted(fetched) and len(fetched) <= 6
