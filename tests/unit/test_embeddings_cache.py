"""The on-disk embeddings cache (api/storage/embeddings.py): built once per content, float16,
memory-mapped, rebuilt when unreadable, harmless when the folder is read-only."""

from __future__ import annotations

import numpy as np

from api.storage.embeddings import cached_embeddings, embeddings_key


class Counting:
    """The real encoder, counting the texts it is asked to encode."""

    def __init__(self, encoder) -> None:
        self.encoder, self.name, self.dim, self.texts = encoder, encoder.name, encoder.dim, 0

    def encode(self, texts, role="query"):
        self.texts += len(texts)
        return self.encoder.encode(texts, role)


TEXTS = ["Soudeur TIG", "Cariste", "Boulanger", "Cariste", "Infirmier de bloc opératoire"]


def test_built_once_then_read_back_mapped(encoder, tmp_path):
    counting = Counting(encoder)
    progress = []
    first = cached_embeddings(counting, TEXTS, kind="titles", fingerprint="f" * 64, root=tmp_path,
                              batch_size=2, progress=lambda done, total: progress.append((done, total)))
    assert counting.texts == 4 and progress[-1] == (4, 4)  # the repeated text once
    assert first.dtype == np.float16 and first.shape == (5, encoder.dim)
    again = cached_embeddings(counting, TEXTS, kind="titles", fingerprint="f" * 64, root=tmp_path)
    assert counting.texts == 4 and isinstance(again, np.memmap) and not again.flags.writeable
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.asarray(again, np.float32), encoder.encode(TEXTS, "query"), atol=2e-3)
    files = list(tmp_path.glob("embeddings-titles-ffffffffffffffff-*.npy"))
    assert len(files) == 1 and files[0].stat().st_size == 5 * encoder.dim * 2 + 128


def test_the_key_follows_the_texts_the_role_and_the_encoder(encoder):
    base = embeddings_key(encoder, "query", TEXTS)
    assert base != embeddings_key(encoder, "passage", TEXTS)
    assert base != embeddings_key(encoder, "query", TEXTS[:-1] + ["Infirmier de bloc"])
    assert base != embeddings_key(encoder, "query", ["Soudeur", "TIG"] + TEXTS[1:])


def test_an_unreadable_file_is_rebuilt(encoder, tmp_path):
    counting = Counting(encoder)
    cached_embeddings(counting, TEXTS[:2], kind="titles", fingerprint="a" * 64, root=tmp_path)
    (path,) = tmp_path.glob("embeddings-*.npy")
    path.write_bytes(b"not a numpy file")
    vectors = cached_embeddings(counting, TEXTS[:2], kind="titles", fingerprint="a" * 64, root=tmp_path)
    assert counting.texts == 4 and vectors.shape == (2, encoder.dim)


def test_an_unwritable_cache_only_costs_the_build(encoder, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    vectors = cached_embeddings(encoder, TEXTS[:2], kind="titles", fingerprint="b" * 64, root=not_a_folder)
    assert vectors.shape == (2, encoder.dim) and vectors.dtype == np.float16


def test_the_skill_label_signal_reads_cached_vectors_and_names_a_skill_it_was_not_given(encoder, demo, tmp_path):
    """api.services.encoding.skill_label_signal: the relation's encoder signal (issue 19)."""
    import pytest

    from api.services.encoding import skill_label_signal
    from matching.encoder import EncoderError

    counting = Counting(encoder)
    cosine = skill_label_signal(demo, counting, [0, 1, 2, 1], tmp_path, progress=lambda done, total: None)
    assert counting.texts == len({demo.skills["label"][i] for i in (0, 1, 2)})
    values = cosine(np.array([0, 1, 2]), np.array([0, 2, 1]))
    assert values.dtype == np.float32 and values[0] == pytest.approx(1.0, abs=2e-3) and values[1] == values[2] < 0.999
    skill_label_signal(demo, counting, [2, 0, 1], tmp_path, progress=lambda done, total: None)
    assert counting.texts == len({demo.skills["label"][i] for i in (0, 1, 2)})  # read back, not embedded again
    with pytest.raises(EncoderError, match=r"no label vector for skill column\(s\) \[5\]"):
        cosine(np.array([0]), np.array([5]))
    with pytest.raises(EncoderError, match="skill columns must be in"):
        skill_label_signal(demo, counting, [-1, 0], tmp_path)
