"""What the app builds once at start-up and shares with every request through ``Depends``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

import referentiels
from matching import SkillSpace
from matching.bridges import BridgeModel
from matching.normalise import SkillNormaliser, TitleNormaliser
from referentiels import Referentiel

from api.settings import Settings
from api.services.suggest import CodeSuggester


class _CurrentSkillNormaliser:
    """``AppState.skill_normaliser``: free-text skill phrases -> skill codes, with the encoder once
    the skill labels' vectors are ready (the first call starts their build), lexical until then
    (the same non-data descriptor as the title normaliser's)."""

    def __get__(self, state, owner=None):
        if state is None:
            return self
        return state.semantic_skills.current()


class _CurrentTitleNormaliser:
    """``AppState.title_normaliser``: free-text job titles -> occupation codes (``.search(text, k)``,
    ``.batch(texts, k)``), with the encoder once its vectors are ready (the first call starts their
    build), lexical until then. A non-data descriptor, like the ``cached_property`` of the other
    normalisers: an instance attribute of the same name takes precedence (the tests' spies)."""

    def __get__(self, state, owner=None):
        if state is None:
            return self
        return state.semantic_titles.current()


@dataclass(eq=False)
class AppState:
    settings: Settings
    referentiel: Referentiel
    extras: dict = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AppState":
        cache = settings.cache_dir if settings.cache_dir is not None else True
        return cls(settings=settings, referentiel=referentiels.load(settings.referentiel, cache=cache))

    @cached_property
    def space(self) -> SkillSpace:
        return SkillSpace.from_referentiel(self.referentiel)

    @cached_property
    def bridges(self) -> BridgeModel:
        """Bridge scores between every pair of occupations, built once (content signals, plus what
        the referential's official mobilities teach when it has some: see matching/bridges.py);
        cached on disk by referential fingerprint (api/storage/bridges_cache.py)."""
        from api.storage import bridges_cache

        return bridges_cache.bridges(self.referentiel, self.space, self.settings.cache_dir)

    @cached_property
    def bridge_labeller(self):
        """Calibrated viability labels of every bridge (``matching.calibration.BridgeLabeller``)."""
        from api.storage import bridges_cache

        return bridges_cache.labeller(self.referentiel, self.bridges, self.space, self.settings.cache_dir,
                                      relation=self.relation)

    @cached_property
    def relation(self):
        """``matching.relation.SkillRelation``: which related skill counts as held (issue 19)."""
        from matching.relation import SkillRelation

        return SkillRelation.from_referentiel(self.referentiel, self.space)

    @cached_property
    def bridge_choice(self) -> dict:
        """Which bridge score is served (learned from official mobilities only where its
        cross-validation beats the content score), with the figures it was decided on."""
        from api.storage import bridges_cache

        return bridges_cache.served_choice(self.referentiel, self.space, self.settings.cache_dir)

    @cached_property
    def passerelles(self):
        """``matching.passerelles.PasserelleIndex``: explained, filtered, labelled bridge queries."""
        from matching.passerelles import PasserelleIndex

        return PasserelleIndex.fit(self.referentiel, self.space, self.bridges, labeller=self.bridge_labeller,
                                   relation=self.relation)

    @cached_property
    def bridge_graph(self):
        """The occupation graph (networkx DiGraph): the 10 best bridges of every occupation."""
        from matching.graph import bridge_graph

        return bridge_graph(self.passerelles, k=10)

    @cached_property
    def bridge_edges(self):
        """(n, n) float32 edge weights of ``bridge_graph``, for career paths."""
        from matching.graph import edge_matrix

        return edge_matrix(self.passerelles, self.bridge_graph)

    @cached_property
    def lexical_title_normaliser(self) -> TitleNormaliser:
        """Free-text job titles -> occupation codes, by their words only."""
        return TitleNormaliser.fit(self.referentiel)

    @cached_property
    def semantic_titles(self):
        """``api.services.encoding.SemanticTitles``: the title normaliser with the settings' encoder,
        its vectors built once per content in a background thread (status for ``GET /referentiel``)."""
        from api.services.encoding import SemanticTitles, encoder_status

        return SemanticTitles(self.referentiel, lambda: self.lexical_title_normaliser,
                              encoder_status(self.settings.encoder, self.settings.encoder_threads),
                              self.settings.cache_dir)

    title_normaliser = _CurrentTitleNormaliser()

    @cached_property
    def lexical_skill_normaliser(self) -> SkillNormaliser:
        """Free-text skill phrases -> skill codes, by their words only."""
        return SkillNormaliser.fit(self.referentiel)

    @cached_property
    def semantic_skills(self):
        """``api.services.encoding.SemanticSkills``: the skill normaliser with the settings' encoder, its
        vectors of the skill labels built once per content in a background thread (issue 21 item 5)."""
        from api.services.encoding import SemanticSkills, encoder_status

        return SemanticSkills(self.referentiel, lambda: self.lexical_skill_normaliser,
                              encoder_status(self.settings.encoder, self.settings.encoder_threads),
                              self.settings.cache_dir)

    skill_normaliser = _CurrentSkillNormaliser()
    """Free-text skill phrases -> skill codes (``.search(text, k)``, ``.batch(texts, k)``)."""

    @cached_property
    def occupation_suggester(self) -> CodeSuggester:
        r = self.referentiel
        return CodeSuggester(r.occupations["code"].to_list(), r.occupations["label"].to_list(),
                             normaliser=self.lexical_title_normaliser)

    @cached_property
    def pool(self):
        """``api.services.pool_service.Pool``: seekers and offers in the store (``settings.database``) and the pool
        index built from it once, then kept in step with every write (issue 5)."""
        with _POOL_LOCK:
            if "pool" not in self.extras:
                from api.services.pool_service import Pool, load_basins
                from api.storage.store import Store

                from api.services.upgrade import upgrade_on_start

                store = Store(self.settings.database)
                # the served referential changed: migrate the stored records to it (issue 12)
                upgrade_on_start(store, self.referentiel, cache_dir=self.settings.cache_dir)
                from api.services.encoding import MAX_SEMANTIC_TEXTS, BoundedSemantic

                # free-text skills of an ingest reach the encoder by batches of at most 500 distinct texts
                self.extras["pool"] = Pool(store, self.referentiel, self.space, self.bridges,
                                           skill_normaliser=lambda: BoundedSemantic(self.skill_normaliser,
                                                                                    MAX_SEMANTIC_TEXTS),
                                           basins=load_basins())
            return self.extras["pool"]


_POOL_LOCK = threading.Lock()
