"""matching.space's hand-written TF-IDF is scikit-learn's, kept by hand for speed (see its docstring)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from matching.space import idf, tfidf_rows, words


def _library(texts: list[str]) -> sp.csr_array:
    vectorizer = TfidfVectorizer(analyzer=words, binary=True, smooth_idf=True, norm="l2", dtype=np.float32)
    return sp.csr_array(vectorizer.fit_transform(texts))


def test_tfidf_rows_is_the_library_tfidf_on_the_demo_labels(demo):
    for texts in (demo.skills["label"].to_list(), demo.occupations["label"].to_list()):
        ours, theirs = tfidf_rows(texts), _library(texts)
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert ours.nnz == theirs.nnz
        assert abs(ours - theirs).max() <= 1e-6


def test_tfidf_rows_without_any_word_has_no_column():
    # the library refuses this vocabulary ("empty vocabulary"); a referential may give it
    assert tfidf_rows([]).shape == (0, 0)
    assert tfidf_rows(["", "de la", "a b"]).shape == (3, 0)
    m = tfidf_rows(["", "Souder des pièces"])
    assert m.shape == (2, 2) and m[[0]].nnz == 0
    assert np.isclose(np.linalg.norm(m[[1]].toarray()), 1.0)


def test_idf_is_the_library_smooth_idf(demo):
    links = sp.csr_array(demo.matrix, dtype=np.float32)
    expected = TfidfTransformer(smooth_idf=True).fit(links).idf_
    assert np.abs(idf(links) - expected).max() <= 1e-6
