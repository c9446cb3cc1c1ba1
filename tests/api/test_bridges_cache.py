"""The on-disk cache of bridge matrices and labels: same answers, rebuilt when unreadable."""

from __future__ import annotations

import numpy as np

from api.storage import bridges_cache
from matching.space import SkillSpace


def test_cached_model_and_labels_give_the_same_answers(demo, tmp_path):
    space = SkillSpace.from_referentiel(demo)
    built = bridges_cache.bridges(demo, space, tmp_path)
    labels = bridges_cache.labeller(demo, built, space, tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    # the learned and content models, the labels, and which score is served (issue 19, item 5)
    assert [f.split("-")[0] for f in files] == ["bridges", "bridges", "labels", "served"]
    assert all(demo.fingerprint[:16] in f for f in files)
    from matching.relation import RELATION_VERSION  # the labels count held skills: a new relation, a new file

    assert next(f for f in files if f.startswith("labels")).endswith(f"-r{RELATION_VERSION}.npz")
    assert bridges_cache.served_choice(demo, space, tmp_path)["served"] == "learned"
    read = bridges_cache.bridges(demo, SkillSpace.from_referentiel(demo), tmp_path)
    assert read.learned == built.learned is True
    for name in ("matrix", "similarity_matrix", "coverage_matrix"):
        np.testing.assert_array_equal(getattr(read, name), getattr(built, name))
    again = bridges_cache.labeller(demo, read, space, tmp_path)
    assert again.calibration == labels.calibration
    a = demo.occupation_row("H2102")
    np.testing.assert_array_equal(again.labels_from(a), labels.labels_from(a))
    # the explanation kernel still works on a model read back
    need = np.arange(20)
    np.testing.assert_array_equal(read.related(need, need), built.related(need, need))
    # with_mobilities on a model read back rebuilds its content signals
    src = np.array([0, 1]); dst = np.array([2, 3])
    np.testing.assert_allclose(read.with_mobilities(src, dst).matrix, built.with_mobilities(src, dst).matrix)


def test_an_unreadable_cache_file_is_rebuilt(demo, tmp_path):
    space = SkillSpace.from_referentiel(demo)
    built = bridges_cache.bridges(demo, space, tmp_path)
    for path in tmp_path.iterdir():
        path.write_bytes(b"not an npz")
    read = bridges_cache.bridges(demo, space, tmp_path)
    np.testing.assert_array_equal(read.matrix, built.matrix)
    assert bridges_cache.labeller(demo, read, space, tmp_path).calibration.viable > 0


def test_the_served_choice_is_cached_and_a_referential_without_mobilities_is_served_content(demo, tmp_path):
    space = SkillSpace.from_referentiel(demo)
    first = bridges_cache.served_choice(demo, space, tmp_path)
    (served,) = [p for p in tmp_path.iterdir() if p.name.startswith("served-")]
    assert first["learned_cv"]["recall@10"] > first["content"]["recall@10"]
    served.write_text('{"served": "content", "rule": "pinned"}', encoding="utf-8")  # read back, not recomputed
    assert bridges_cache.served_choice(demo, space, tmp_path)["rule"] == "pinned"
    assert bridges_cache.bridges(demo, space, tmp_path).learned is False
    served.write_text("not json", encoding="utf-8")  # unreadable: decided again
    assert bridges_cache.served_choice(demo, space, tmp_path)["served"] == "learned"
    alone = demo.__class__.__new__(demo.__class__)
    alone.__dict__.update(demo.__dict__)
    alone.__dict__["mobilities"] = demo.mobilities.clear()
    assert bridges_cache.served_choice(alone, space, tmp_path)["served"] == "content"
