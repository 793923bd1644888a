"""Works offline, always: the environment defaults that keep every library off the network.

Applied once, when the ``rag`` package is first imported (every other package imports ``rag``
before any model, Chroma or Gradio code runs). A value the user set explicitly is kept.
"""

from __future__ import annotations

import os

OFFLINE_ENV = {
    "ANONYMIZED_TELEMETRY": "False",  # Chroma
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",  # models load from local paths only
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def apply_offline_defaults() -> None:
    """Set each of ``OFFLINE_ENV`` unless the environment already has a value for it."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
