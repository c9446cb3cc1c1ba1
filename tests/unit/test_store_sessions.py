"""The store keeps a training's sessions with it: one transaction, replaced with it, renamed or erased with it."""

from __future__ import annotations

import pytest

from api.storage.store import Store, StoreError


def _training(i: str) -> dict:
    return {"id": i, "title": "t", "offer": {"id": i}}


def _session(i: str, training: str) -> dict:
    return {"id": i, "training": training, "start": "2027-03-01"}


def test_sessions_are_stored_replaced_and_follow_their_training(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.save_trainings([_training("A"), _training("B")],
                             sessions=[_session("S2", "A"), _session("S1", "A"), _session("S3", "B")])
        assert [s["id"] for s in store.training_sessions()] == ["S2", "S1", "S3"]  # the order they came in
        assert [s["id"] for s in store.training_sessions(["B"])] == ["S3"]
        store.save_trainings([_training("A")], sessions=[_session("S4", "A")])  # A again: its sessions replaced
        assert [s["id"] for s in store.training_sessions(["A"])] == ["S4"]
        store.fix_ids("trainings", {"A": "A2", "B": None})
        assert [(s["id"], s["training"]) for s in store.training_sessions()] == [("S4", "A2")]
        store.save_trainings([_training("C")], replace=True)
        assert store.training_sessions() == []


def test_sessions_must_belong_to_the_batch(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        with pytest.raises(StoreError, match="training of the batch"):
            store.save_trainings([_training("A")], sessions=[_session("S1", "Z")])
        with pytest.raises(StoreError, match="more than once"):
            store.save_trainings([_training("A")], sessions=[_session("S1", "A"), _session("S1", "A")])
        assert store.training_sessions() == []


def test_batches_are_one_transaction_and_a_failing_producer_writes_nothing(tmp_path):
    with Store(tmp_path / "s.sqlite3") as store:
        store.save_training_batches([([_training("A")], [_session("S1", "A")]),
                                     ([_training("B")], [_session("S2", "B")])], source="flux.xml")
        assert [t["id"] for t in store.trainings()[1]] == ["A", "B"]
        assert [len(batch) for batch in store.training_text_batches(size=1)[1]] == [1, 1]
        seq = store.trainings_seq()

        def failing():
            yield [_training("C")], [_session("S3", "C")]
            raise RuntimeError("the reader met a bad record")

        with pytest.raises(RuntimeError):
            store.save_training_batches(failing(), replace=True)
        assert [t["id"] for t in store.trainings()[1]] == ["A", "B"] and store.trainings_seq() == seq
        with pytest.raises(StoreError, match="more than once"):  # an id in two batches
            store.save_training_batches([([_training("D")], []), ([_training("D")], [])])
        assert [t["id"] for t in store.trainings()[1]] == ["A", "B"]
