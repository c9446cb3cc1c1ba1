"""The skill normaliser's encoder as served (issue 21 item 5): its status in ``GET /referentiel``,
lexical where no encoder loads, fused once its vectors of the skill labels are built and cached."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.services.encoding import SemanticSkills, skill_cache_info
from api.settings import Settings
from matching.encoder import EncoderStatus
from matching.normalise import SkillNormaliser


class _Table:
    """A deterministic stand-in encoder: each distinct text its own axis of a 4,096-d space."""

    name, dim = "table-encoder-status-test", 4096

    def encode(self, texts, role="query"):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, hash(("v1", text)) % self.dim] = 1.0
        return out


def test_without_an_encoder_the_skills_say_lexical_only(tmp_path):
    settings = Settings(referentiel="demo", encoder="none", database=tmp_path / "p.sqlite3")
    with TestClient(create_app(settings)) as client:
        info = client.get("/referentiel").json()["encoder"]
        assert info["available"] is False
        assert info["skills"]["state"] == "unavailable" and info["skills"]["answers"] == "lexical only"
        body = client.post("/normalise/skills", json={"texts": ["Souder au procédé TIG"], "k": 3}).json()
        assert body["results"][0]["best"]["code"] == "DS0190"


def test_the_skill_vectors_are_built_once_cached_and_then_used(demo, tmp_path):
    encoder = _Table()
    lexical = SkillNormaliser.fit(demo)
    semantic = SemanticSkills(demo, lexical, EncoderStatus("table", encoder), cache_dir=tmp_path)
    assert semantic.current() is lexical  # before the build: lexical (the build starts in the background)
    assert semantic.wait(timeout=120) and semantic.status()["skills"]["state"] == "ready"
    fused = semantic.current()
    assert fused is not lexical and fused.encoder is encoder
    info = skill_cache_info(demo, encoder, tmp_path)
    assert info["cached"] and info["texts"] == len(lexical.semantic_texts)
    assert info["bytes"] >= len(set(lexical.semantic_texts)) * encoder.dim * 2  # float16
    again = SemanticSkills(demo, lexical, EncoderStatus("table", encoder), cache_dir=tmp_path).build()
    assert again.encoder is encoder  # read back from the cache


def test_whole_ads_reach_the_skill_encoder_only_by_small_batches(demo):
    from api.services.encoding import BoundedSemantic

    calls: list[tuple[int, bool]] = []

    class Recorder:
        threshold = 0.6

        def batch(self, texts, k=5, workers=-1, semantic=True):
            calls.append((len(texts), semantic))
            return SkillNormaliser.fit(demo).batch(texts, k, workers, semantic=semantic)

    bounded = BoundedSemantic(Recorder(), max_texts=3)
    bounded.batch(["souder", "souder", "braser", "meuler"], k=1)   # 3 distinct: the encoder may read them
    bounded.batch(["souder", "braser", "meuler", "ébavurer"], k=1)  # 4 distinct: words only
    assert calls == [(4, True), (4, False)] and bounded.threshold == 0.6


def test_the_answer_says_how_the_skills_were_read(tmp_path, demo):
    settings = Settings(referentiel="demo", encoder="none", database=tmp_path / "p.sqlite3")
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.post("/normalise/skills", json={"texts": ["souder"]}).json()["reading"] == "words only"
        state = app.state.passerelles
        lexical = SkillNormaliser.fit(demo)
        encoder = _Table()
        state.__dict__["skill_normaliser"] = lexical.with_encoder(encoder, encoder.encode(list(lexical.semantic_texts)))
        body = client.post("/normalise/skills", json={"texts": ["braser"]}).json()
        assert body["reading"] == "words and encoder"
        many = client.post("/normalise/skills", json={"texts": [f"souder {i}" for i in range(101)]}).json()
        assert many["reading"] == "words only"
