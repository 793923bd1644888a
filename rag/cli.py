"""The ``newsrag`` command line: one entry point, one sub-command per part.

Each package registers its own commands (``ingest.cli``, ``evals.cli``, ``ui.cli``, ``rag.commands``)
so this file stays a table of contents. Domain errors become one clear line and exit status here.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="newsrag",
    help="Question answering over news articles, every claim cited with a verbatim quote.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_all() -> None:
    from evals.cli import register as register_evals
    from ingest.cli import register as register_ingest
    from rag.commands import register as register_rag
    from ui.cli import register as register_ui

    register_ingest(app)
    register_rag(app)
    register_ui(app)
    register_evals(app)


_register_all()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
