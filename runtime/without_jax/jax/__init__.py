"""Keeps JAX out of the bot's Python processes (this folder leads their PYTHONPATH; bot/supervisor.py).

TensorFlow 2.12 imports JAX when it loads, only for converting JAX functions to TensorFlow
Lite, which the bot never does: TensorFlow catches the ImportError raised here and goes on.
That saves each Rasa and action server process about 65 MiB of resident memory and a quarter
of a second of start-up (docs/performance.md). Nothing of the bot uses JAX.
"""

raise ImportError("JAX is kept out of the bot's processes (runtime/without_jax)")
