"""The browser chat (Gradio) behind ``newsrag serve``: thin over ``rag`` and ``ingest``."""
