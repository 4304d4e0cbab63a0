"""An intent classifier over sentence embeddings (+ sparse n-grams) with an out-of-scope decision.

Built for the MiniLM features of ``rasa_components/minilm.py`` (see ``bench/pipelines/minilm.yml``):

* **Classifier**: a linear SVM (default; or a multinomial logistic regression; scikit-learn, a
  Rasa dependency) over the
  message's dense *sentence* features (the 384-d MiniLM embedding, times ``dense_weight``)
  concatenated with its sparse sentence features (the n-gram counts of the
  ``CountVectorsFeaturizer`` s, log-scaled and L2-normalised) when ``use_sparse`` is on.
* **Out-of-scope score**: for every intent ``c``,
  ``score_c = (1 - knn_weight) * f_c(x) + knn_weight * knn_c(x)`` (``f_c``: the SVM
  margin squashed by ``sigmoid(margin_scale * margin)``, or the probability), where ``knn_c`` is the
  mean cosine similarity of the embedding to its ``knn_k`` nearest training examples of
  ``c``. A message far from every training example of its best intent gets a low score even
  when the classifier is confident — the classifier alone is over-confident on
  out-of-scope text. ``intent`` and ``intent_ranking`` carry these scores, so a
  ``FallbackClassifier`` after this component (or a benchmark's threshold sweep) works on
  them as on any classifier's confidence.
* **Rejection** (optional, ``fallback_threshold``): below it, or when the best intent is one of
  ``oos_intents`` (e.g. CLINC150's ``oos`` trained as a class), the message gets
  ``fallback_intent_name`` (default ``nlu_fallback``), with confidence ``1 - score`` below the
  threshold and the out-of-scope class's score for an ``oos_intents`` hit; as with Rasa's
  ``FallbackClassifier``, the classifier's own ranking follows it in ``intent_ranking``.

Persisted as plain numpy arrays (``.npz``) and JSON in Rasa's model storage; no pickle.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

INTENT_RANKING = "intent_ranking"


def _log_l2(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """log(1 + count), then each row L2-normalised (a sublinear TF weighting)."""
    matrix = matrix.tocsr().astype(np.float32)
    matrix.data = np.log1p(matrix.data)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EmbeddingIntentClassifier(IntentClassifier, GraphComponent):
    """Logistic regression over [embedding ⊕ n-grams], kNN-aware confidence (module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Defaults; every key can be overridden in the pipeline config."""
        return {
            # "svm": LinearSVC margins; "logreg": multinomial probabilities (slower to train).
            "classifier": "svm",
            "use_sparse": True,
            "dense_weight": 2.0,
            "C": 0.5,
            "max_iter": 1000,
            "knn_k": 1,
            "margin_scale": 2.0,
            "knn_weight": 0.5,
            "oos_intents": [],
            "fallback_threshold": None,
            "fallback_intent_name": "nlu_fallback",
            "ranking_length": 10,
            "random_seed": 1,
        }

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, state: dict[str, Any] | None
    ) -> None:
        """A classifier; ``state`` holds the trained arrays (``None`` before training)."""
        self.config = config
        self._model_storage = model_storage
        self._resource = resource
        self._state = state

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmbeddingIntentClassifier:
        """An untrained classifier."""
        return cls(config, model_storage, resource, None)

    @staticmethod
    def required_packages() -> list[str]:
        """scikit-learn (installed with Rasa)."""
        return ["sklearn"]

    # -- features ----------------------------------------------------------------------------
    def _features(self, messages: list[Message]) -> tuple[np.ndarray, sp.csr_matrix | None]:
        dense_rows, sparse_rows = [], []
        for message in messages:
            dense = message.get_dense_features(TEXT)[1]
            if dense is None:
                raise ValueError(
                    "EmbeddingIntentClassifier needs dense sentence features of the text: put "
                    "rasa_components.minilm.MiniLMFeaturizer before it in the pipeline."
                )
            dense_rows.append(np.asarray(dense.features, dtype=np.float32).reshape(-1))
            if self.config["use_sparse"]:
                sparse = message.get_sparse_features(TEXT)[1]
                sparse_rows.append(sp.csr_matrix(sparse.features) if sparse is not None else None)
        embeddings = np.vstack(dense_rows)
        norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
        embeddings = embeddings / np.maximum(norms, 1e-12)
        if not self.config["use_sparse"]:
            return embeddings, None
        width = next((row.shape[1] for row in sparse_rows if row is not None), 0)
        rows = [row if row is not None else sp.csr_matrix((1, width), dtype=np.float32) for row in sparse_rows]
        return embeddings, _log_l2(sp.vstack(rows)) if width else None

    def _design(self, embeddings: np.ndarray, sparse: sp.csr_matrix | None) -> Any:
        dense = embeddings * float(self.config["dense_weight"])
        if sparse is None:
            return dense
        return sp.hstack([sp.csr_matrix(dense), sparse]).tocsr()

    # -- training ----------------------------------------------------------------------------
    def train(self, training_data: TrainingData) -> Resource:
        """Fit the logistic regression and keep the training embeddings for the kNN score."""
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            logger.debug("EmbeddingIntentClassifier: no intent examples, nothing to train.")
            return self._resource
        labels = sorted({e.get(INTENT) for e in examples})
        index = {label: i for i, label in enumerate(labels)}
        y = np.array([index[e.get(INTENT)] for e in examples])
        embeddings, sparse = self._features(examples)
        started = time.perf_counter()
        if len(labels) == 1:
            coef = np.zeros((1, self._design(embeddings[:1], sparse[:1] if sparse is not None else None).shape[1]))
            intercept = np.zeros(1)
        else:
            model = self._estimator()
            model.fit(self._design(embeddings, sparse), y)
            coef, intercept = model.coef_, np.atleast_1d(model.intercept_)
            if len(labels) == 2:  # binary sklearn model: one row, for class 1
                coef = np.vstack([-coef / 2, coef / 2])
                intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        logger.debug(f"EmbeddingIntentClassifier trained in {time.perf_counter() - started:.1f}s")
        order = np.argsort(y, kind="stable")
        self._state = {
            "labels": labels,
            "coef": np.asarray(coef, dtype=np.float32),
            "intercept": np.asarray(intercept, dtype=np.float32),
            "train_embeddings": embeddings[order].astype(np.float32),
            "train_labels": y[order].astype(np.int32),
            "sparse_width": int(sparse.shape[1]) if sparse is not None else 0,
        }
        self.persist()
        return self._resource

    def _estimator(self) -> Any:
        """A linear SVM (liblinear, one-vs-rest; fast) or a multinomial logistic regression."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.config["classifier"] == "logreg":
            return LogisticRegression(
                C=float(self.config["C"]),
                max_iter=int(self.config["max_iter"]),
                random_state=self.config["random_seed"],
            )
        if self.config["classifier"] != "svm":
            raise ValueError(f"EmbeddingIntentClassifier: unknown classifier {self.config['classifier']!r}")
        return LinearSVC(
            C=float(self.config["C"]), max_iter=int(self.config["max_iter"]), random_state=self.config["random_seed"]
        )

    # -- persistence -------------------------------------------------------------------------
    def persist(self) -> None:
        """Arrays to ``arrays.npz``, intent names to ``labels.json``."""
        if self._state is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            state = self._state
            np.savez(
                directory / "arrays.npz",
                coef=state["coef"],
                intercept=state["intercept"],
                train_embeddings=state["train_embeddings"],
                train_labels=state["train_labels"],
            )
            meta = {"labels": state["labels"], "sparse_width": state["sparse_width"]}
            (directory / "labels.json").write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EmbeddingIntentClassifier:
        """The trained classifier from the model storage (untrained if there is none)."""
        try:
            with model_storage.read_from(resource) as directory:
                meta = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
                with np.load(directory / "arrays.npz") as arrays:
                    state = {key: arrays[key] for key in arrays.files}
        except (ValueError, FileNotFoundError):
            logger.debug(f"EmbeddingIntentClassifier: no trained state in '{resource.name}'.")
            return cls(config, model_storage, resource, None)
        state.update(meta)
        return cls(config, model_storage, resource, state)

    # -- inference ---------------------------------------------------------------------------
    def scores(self, messages: list[Message]) -> tuple[np.ndarray, np.ndarray]:
        """(classifier scores, combined scores), each ``(len(messages), n_intents)``.

        Classifier scores are ``sigmoid(margin_scale * SVM margin)`` (``svm``) or probabilities
        (``logreg``).
        """
        state = self._state
        assert state is not None
        embeddings, sparse = self._features(messages)
        if sparse is not None and sparse.shape[1] != state["sparse_width"]:
            raise ValueError("sparse feature width differs from training: the featurizers changed")
        design = self._design(embeddings, sparse)
        decision = np.asarray(design @ state["coef"].T + state["intercept"])
        if self.config["classifier"] == "logreg":
            decision = np.exp(decision - np.max(decision, axis=1, keepdims=True))
            decision /= decision.sum(axis=1, keepdims=True)
        else:  # SVM margins (about -2..2) squashed to (0, 1)
            decision = 1.0 / (1.0 + np.exp(-float(self.config["margin_scale"]) * decision))

        n_labels = len(state["labels"])
        similarities = embeddings @ state["train_embeddings"].T  # rows are unit vectors
        train_labels = state["train_labels"]
        starts = np.searchsorted(train_labels, np.arange(n_labels))
        ends = np.searchsorted(train_labels, np.arange(n_labels), side="right")
        k = max(int(self.config["knn_k"]), 1)
        knn = np.zeros_like(decision)
        for c in range(n_labels):
            block = similarities[:, starts[c] : ends[c]]
            if block.shape[1] == 0:
                continue
            if k == 1 or block.shape[1] <= k:
                knn[:, c] = block.max(axis=1) if k == 1 else block.mean(axis=1)
            else:
                knn[:, c] = np.partition(block, -k, axis=1)[:, -k:].mean(axis=1)
        weight = float(self.config["knn_weight"])
        return decision, (1.0 - weight) * decision + weight * knn

    def _rank(self, combined: np.ndarray) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        labels = self._state["labels"]  # type: ignore[index]
        order = np.argsort(-combined, kind="stable")
        confidences = np.clip(combined, 0.0, 1.0)
        ranking = [{INTENT_NAME_KEY: labels[i], PREDICTED_CONFIDENCE_KEY: float(confidences[i])} for i in order]
        best = ranking[0]
        threshold = self.config["fallback_threshold"]
        out_of_scope = best[INTENT_NAME_KEY] in set(self.config["oos_intents"])
        if out_of_scope or (threshold is not None and best[PREDICTED_CONFIDENCE_KEY] < float(threshold)):
            confidence = best[PREDICTED_CONFIDENCE_KEY] if out_of_scope else 1.0 - best[PREDICTED_CONFIDENCE_KEY]
            best = {INTENT_NAME_KEY: self.config["fallback_intent_name"], PREDICTED_CONFIDENCE_KEY: confidence}
            ranking = [best, *ranking]  # like FallbackClassifier: the classifier's ranking follows
        length = int(self.config["ranking_length"])
        return best, ranking[:length] if length > 0 else ranking

    def process(self, messages: list[Message]) -> list[Message]:
        """Set ``intent`` and ``intent_ranking`` on each message with text."""
        todo = [m for m in messages if m.get(TEXT)]
        if self._state is None or not todo:
            return messages
        _, combined = self.scores(todo)
        for message, row in zip(todo, combined, strict=True):
            intent, ranking = self._rank(row)
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING, ranking, add_to_output=True)
        return messages
