"""Issue 19, item 5: the learned score is served only where its cross-validation beats the content score."""

from __future__ import annotations

import numpy as np

from matching.bridges import BridgeModel, mobility_rows
from matching.evaluation import Evaluation, learned_beats_content, served_choice
from matching.space import SkillSpace


def figures(r10: float, mrr: float) -> Evaluation:
    return Evaluation(sources=10, pairs=20, recall={5: r10 / 2, 10: r10, 20: r10}, micro_recall={10: r10}, mrr=mrr,
                      cross_sector_pairs=0, cross_sector_recall={10: 0.0})


def test_the_learned_score_must_win_on_recall_and_on_mrr():
    content = figures(0.30, 0.66)
    assert learned_beats_content(content, figures(0.42, 0.76))
    assert not learned_beats_content(content, figures(0.42, 0.60))  # the kept-away referential
    assert not learned_beats_content(content, figures(0.30, 0.80))  # a tie on recall is no win


def test_the_choice_on_the_demo_and_without_enough_mobilities(demo):
    space = SkillSpace.from_referentiel(demo)
    model = BridgeModel.fit(space)
    sources, targets = mobility_rows(demo)
    choice = served_choice(model, sources, targets, space.context.sectors)
    assert choice["served"] == "learned"
    assert choice["learned_cv"]["recall@10"] > choice["content"]["recall@10"]
    few = np.isin(sources, np.unique(sources)[:3])
    alone = served_choice(model, sources[few], targets[few])
    assert alone["served"] == "content" and alone["learned_cv"] is None
