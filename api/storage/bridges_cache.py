"""On-disk cache of the bridge model and its calibrated labels, keyed by the referential's content.

Building them on full ROME takes seconds (signals, all pairs, calibration over 2.5 M pairs); a
served app or a CLI call reads them back in milliseconds instead. Files:
``<cache_dir>/bridges-<fingerprint[:16]>-<model key>.npz`` (score, similarity, coverage matrices)
and ``labels-<fingerprint[:16]>-<model key>.npz`` (core support matrices and the calibration as
JSON). The model key changes with ``matching.bridges.MODEL_VERSION`` and the weights, the labels'
also with ``matching.relation.RELATION_VERSION`` (they count held skills only). A file that
cannot be read is rebuilt; writes are atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from matching.bridges import BridgeModel, BridgeWeights, mobility_rows
from matching.calibration import BridgeLabeller, Calibration, CoreSupport

from api.storage.files import atomic_path


def cache_root(cache_dir: Path | None) -> Path | None:
    """The folder to cache in (``cache_dir``, else the referentials' default), or None if unusable."""
    if cache_dir is None:
        from referentiels.loading import default_cache_dir

        cache_dir = default_cache_dir()
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return Path(cache_dir)


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    except OSError:  # a read-only cache only costs time
        pass


def _read(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError):
        return None


def served_choice(referentiel, space, cache_dir: Path | None = None, *,
                  weights: BridgeWeights | None = None) -> dict:
    """Which bridge score to serve (``matching.evaluation.served_choice``: the score learned from
    official mobilities only where its 5-fold cross-validation beats the content score on recall@10
    and MRR), cached as ``served-<fingerprint[:16]>-<content model key>.json``."""
    from matching.evaluation import served_choice as decide

    if referentiel.mobilities.height == 0:
        return {"served": "content", "content": None, "learned_cv": None,
                "rule": "no official mobilities to learn from"}
    root = cache_root(cache_dir)
    path = None if root is None else root / f"served-{referentiel.fingerprint[:16]}-{BridgeModel.key(weights, False)}.json"
    if path is not None and path.exists():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            if found.get("served") in ("learned", "content"):
                return found
        except (OSError, ValueError):
            pass
    content = bridges(referentiel, space, cache_dir, learn_mobilities=False, weights=weights)
    sources, targets = mobility_rows(referentiel)
    choice = decide(content, sources, targets, space.context.sectors if space.context is not None else None)
    if path is not None:
        try:
            with atomic_path(path) as tmp:
                Path(tmp).write_text(json.dumps(choice), encoding="utf-8")
        except OSError:
            pass
    return choice


def bridges(referentiel, space, cache_dir: Path | None = None, *, learn_mobilities: bool = True,
            weights: BridgeWeights | None = None) -> BridgeModel:
    """``BridgeModel.from_referentiel(referentiel, space)``, read from the cache when built before;
    learned from official mobilities only when ``served_choice`` says the learned score wins."""
    learned = (learn_mobilities and referentiel.mobilities.height > 0
               and served_choice(referentiel, space, cache_dir, weights=weights)["served"] == "learned")
    root = cache_root(cache_dir)
    path = None if root is None else root / f"bridges-{referentiel.fingerprint[:16]}-{BridgeModel.key(weights, learned)}.npz"
    cached = _read(path) if path is not None else None
    if cached is not None:
        try:
            return BridgeModel.from_arrays(space, cached, weights=weights, trained_on_mobilities=learned)
        except ValueError:
            pass
    model = BridgeModel.fit(space, mobilities=mobility_rows(referentiel) if learned else None, weights=weights)
    if path is not None:
        _write(path, model.arrays())
    return model


def labeller(referentiel, model: BridgeModel, space, cache_dir: Path | None = None, relation=None) -> BridgeLabeller:
    """``BridgeLabeller.from_referentiel(referentiel, model, space)``, read from the cache when built before."""
    root = cache_root(cache_dir)
    from matching.relation import RELATION_VERSION

    # the labels count held skills only: a new skill relation is a new file
    key = f"{BridgeModel.key(model.weights, model.learned)}-r{RELATION_VERSION}"
    path = None if root is None else root / f"labels-{referentiel.fingerprint[:16]}-{key}.npz"
    cached = _read(path) if path is not None else None
    if cached is not None:
        try:
            calibration = json.loads(str(cached["calibration"]))
            calibration["likelihood_ratios"] = tuple(calibration["likelihood_ratios"])
            return BridgeLabeller(calibration=Calibration(**calibration),
                                  support=CoreSupport(matrix=cached["support"], unsupported=cached["unsupported"]),
                                  scores=np.asarray(model.matrix, dtype=np.float32))
        except (KeyError, TypeError, ValueError):
            pass
    built = BridgeLabeller.from_referentiel(referentiel, model, space, relation=relation)
    if path is not None:
        _write(path, {"support": built.support.matrix, "unsupported": built.support.unsupported,
                      "calibration": np.array(json.dumps(built.calibration.to_dict()))})
    return built
