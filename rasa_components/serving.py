"""Serving-time fixes to Rasa 3.6's hot path, installed in the Rasa server when its customer channel loads.

The profile of a turn (docs/performance.md, ``bench/serving.py --profile``) showed two wastes:

- A third of the Rasa server's time in a turn went to checking JSON schemas: every answer of
  the action server is validated with ``jsonschema.validate``, which first checks the
  (constant) schema itself against the JSON Schema meta-schema, then builds a validator, on
  every call. Here the validator is built once and reused; each answer is still validated
  against the same schema, and an invalid one fails with the same error as before.
- An eighth went to the SQL tracker store, which on a SQLite file (``make run``) opened a new
  connection for every read and write: Rasa asks SQLAlchemy 1.4 for its defaults, a NullPool
  there. Here a SQLite file gets a small pool of kept connections, as SQLAlchemy 2 gives it
  (PostgreSQL keeps Rasa's own pool settings).

:func:`install` is idempotent and called by :class:`rasa_components.gateway_channel.GatewayInput`
when Rasa builds its input channels, so it runs in every Rasa server of the bot and in no other
process.
"""

from __future__ import annotations

import logging
from typing import Any

_LOGGER = logging.getLogger(__name__)
_INSTALLED = False


def install() -> None:
    """Patch Rasa (once per process); see the module docstring."""
    global _INSTALLED
    if _INSTALLED:
        return
    from rasa.core import tracker_store
    from rasa.core.actions.action import RemoteAction

    RemoteAction._validate_action_result = _validate_action_result
    rasa_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        return _sqlite_pool(url) or rasa_kwargs(url)

    tracker_store.create_engine_kwargs = create_engine_kwargs
    _load_models_for_inference()
    _INSTALLED = True
    _LOGGER.debug("serving.installed action_result_validator=cached sqlite_pool=queue")


def _sqlite_pool(url: Any) -> dict[str, Any]:
    """Engine arguments keeping connections to a SQLite file; ``{}`` for anything else."""
    from sqlalchemy.engine.url import make_url
    from sqlalchemy.pool import QueuePool

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return {}
    return {"poolclass": QueuePool, "pool_size": 4, "max_overflow": 8, "connect_args": {"check_same_thread": False}}


#: The validator of the action server's answers, built (and its schema checked) on first use.
_VALIDATOR: Any = None


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` of Rasa 3.6 with one validator per process."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.shared.constants import DOCS_BASE_URL

    global _VALIDATOR
    if _VALIDATOR is None:
        spec = self.action_response_format_spec()  # a constant, the same for every action
        cls = validator_for(spec)
        cls.check_schema(spec)
        _VALIDATOR = cls(spec)
    error = best_match(_VALIDATOR.iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def _load_models_for_inference() -> None:
    """Load Rasa's TensorFlow models (TED) for predicting only, without a training step first.

    Rasa 3.6 builds a saved model's variables by fitting it on one example before loading its
    weights: that traces the whole training graph (gradients, optimizer slots), 10 of the 14
    seconds a model took to load and 230 MiB the server kept for good. Here the variables are
    built by the one prediction Rasa makes after loading anyway, and the weights restored into
    them; every variable the prediction uses must be matched in the saved weights, or the model
    is loaded Rasa's way. A model loaded to be fine-tuned is always loaded Rasa's way.
    """
    from rasa.utils.tensorflow.models import RasaModel

    stock = RasaModel.load.__func__

    def load(
        cls: Any,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if finetune_mode or predict_data_example is None:
            return stock(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)
        import tensorflow as tf

        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(optimizer=tf.keras.optimizers.Adam(config.get("learning_rate", 0.001)), run_eagerly=False)
        model.run_inference(predict_data_example)  # builds exactly the variables a prediction uses
        try:
            model.load_weights(model_file_name).expect_partial().assert_existing_objects_matched()
        except AssertionError:
            _LOGGER.warning("serving.model_load_fallback model=%s", cls.__name__)
            return stock(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)
        # What the first prediction computed ahead (TED's label embeddings) and traced into its
        # graph as constants came from the initial weights: compute and trace both again.
        model.prepared_for_prediction = False
        model._tf_predict_step = None
        model.run_inference(predict_data_example)
        return model

    RasaModel.load = classmethod(load)
