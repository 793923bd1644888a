"""An eval run's recorded configuration never holds a secret: no key of any service, no password."""

from __future__ import annotations

from evals.presets import settings_record
from rag.settings import Settings


def test_keys_and_passwords_of_every_service_are_left_out():
    settings = Settings(openai_api_key="sk-chat", embedding_api_key="sk-embed",
                        auth_username="ann", auth_password="hunter2")
    record = settings_record(settings)
    text = repr(record)
    for secret in ("sk-chat", "sk-embed", "hunter2"):
        assert secret not in text
    assert record["auth_username"] == "ann" and record["embedding_model"] == settings.embedding_model
