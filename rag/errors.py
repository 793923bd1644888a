"""Domain errors: each carries a message meant for the user, shown as one line at the edge."""

from __future__ import annotations


class NewsragError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence."""


class ModelMissingError(NewsragError):
    """The configured model file is not there (the message says which command fixes it)."""


class StoreError(NewsragError):
    """The store cannot be opened or written."""


class StoreBusy(StoreError):
    """Another writer holds the store's write lock and the caller chose not to wait."""


class BackendError(NewsragError):
    """An LLM backend failed (server unreachable, bad configuration)."""


class ModelBuildError(NewsragError):
    """A model file could not be built (a part failed to download, or the sha256 did not match)."""


class SettingsError(NewsragError):
    """A setting has a value it does not allow.

    The message has one line per bad value: the environment variable or option it came from, the
    value, and what is allowed (``NEWSRAG_TOP_K=0: must be at least 1``).
    """


class QuestionTooLong(NewsragError):
    """The question is longer than the settings allow, or too long for the model's context window
    even without passages; nothing was retrieved or generated."""

    code = "question_too_long"
