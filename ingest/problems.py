"""What can go wrong while loading: one record per problem, printed as one line."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """A file (or one line of it) that could not be ingested, or ingested with a caveat."""

    path: str = Field(description="The file concerned, as given or found.")
    reason: str = Field(description="What is wrong, as a short user-facing phrase.")
    line: int | None = Field(default=None, description="1-based line number within the file, if any.")
    fatal: bool = Field(default=True, description="True: not ingested. False: a warning only.")

    @property
    def where(self) -> str:
        """``path`` or ``path:line``."""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __str__(self) -> str:
        kind = "error" if self.fatal else "warning"
        return f"{kind}: {self.where}: {self.reason}"
