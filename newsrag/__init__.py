"""The ``newsrag`` command: the one place that knows every package (``rag``, ``ingest``, ``ui``, ``evals``)."""
