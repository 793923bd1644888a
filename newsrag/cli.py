"""The ``newsrag`` command line: one entry point, one sub-command per part.

Each package registers its own commands (``ingest.cli``, ``rag.cli``, ``ui.cli``, ``evals.cli``)
so this file stays a table of contents; it is the only module that imports all of them.
"""

from __future__ import annotations

import typer

from evals.cli import register as register_evals
from ingest.cli import register as register_ingest
from rag.cli import register as register_rag
from ui.cli import register as register_ui

app = typer.Typer(
    name="newsrag",
    help="Question answering over news articles, every claim cited with a verbatim quote.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

register_ingest(app)
register_rag(app)
register_ui(app)
register_evals(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
