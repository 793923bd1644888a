"""The answer path as a LangChain ``Runnable``: ``rag.chain()``.

``AnswerChain`` takes a question (a string, or ``{"question", "history", "filters", "as_of"}``) and
gives the ``Answer`` of ``rag.ask``: ``invoke``, ``batch``, ``stream`` (the events of ``rag.stream``:
``Stage``, ``str`` pieces, then the ``Answer``), and ``ainvoke``/``abatch``/``astream``, which run
the synchronous stages in a thread so that an event loop goes on meanwhile. Each answer is one
callback run, and each of its stages (``rewrite``, ``retrieval``, ``context``, ``prompt``,
``generation``, ``grounding``, and ``refusal``) a child run of it, the model's calls nested under
their stage: a tracer passed in ``config["callbacks"]`` sees the whole tree.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, Optional, Union

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForChainRun
from langchain_core.runnables import RunnableConfig, RunnableSerializable, ensure_config
from langchain_core.runnables.config import get_callback_manager_for_config, run_in_executor
from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from rag.answerer import StageRun, Trace
from rag.types import Answer, Stage


class Question(TypedDict, total=False):
    """The chain's input as a dict (a plain string is the question alone)."""

    question: str
    history: Optional[list[dict]]
    filters: Optional[dict]
    as_of: Optional[Union[dt.date, str]]


FIELDS = ("question", "history", "filters", "as_of")


def read_question(value: str | dict) -> dict[str, Any]:
    """The keyword arguments of ``Answerer.stream`` for one input of the chain.

    Args:
        value: the question, or ``{"question", "history", "filters", "as_of"}``.

    Returns:
        ``{"question", "history", "filters", "as_of"}`` (absent ones None).

    Raises:
        ValueError: not a string or such a dict (unknown keys, or no question).
    """
    if isinstance(value, str):
        value = {"question": value}
    if not isinstance(value, dict):
        raise ValueError(f"the chain's input is a question or a dict of {', '.join(FIELDS)}, not {type(value).__name__}")
    unknown = set(value) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown input keys: {', '.join(sorted(unknown))} (known: {', '.join(FIELDS)})")
    if not isinstance(value.get("question"), str):
        raise ValueError("the chain's input has no question")
    return {name: value.get(name) for name in FIELDS}


class _CallbackStageRun(StageRun):
    """A stage reported as a child run of the answer's run."""

    def __init__(self, run: CallbackManagerForChainRun) -> None:
        super().__init__()
        self.run = run

    def callbacks(self, *handlers: BaseCallbackHandler) -> Any:
        """The stage run's child callback manager, ``handlers`` added: a model call made with it is
        a child run of the stage."""
        manager = self.run.get_child()
        for handler in handlers:
            manager.add_handler(handler, inherit=False)
        return manager


class CallbackTrace(Trace):
    """Reports each stage as a chain run, a child of the answer's run.

    Args:
        parent: the answer's run.
    """

    def __init__(self, parent: CallbackManagerForChainRun) -> None:
        self.parent = parent

    @contextmanager
    def stage(self, name: str, inputs: dict[str, Any]) -> Iterator[StageRun]:
        """Run the block as the child run ``name``: ended with the outputs the block set, or with
        the error that left it (a stream closed early included)."""
        run = self.parent.get_child().on_chain_start(None, inputs, name=name)
        stage = _CallbackStageRun(run)
        try:
            yield stage
        except BaseException as err:
            run.on_chain_error(err)
            raise
        run.on_chain_end(stage.outputs)


class AnswerChain(RunnableSerializable[Union[str, Question], Answer]):
    """newsrag's answer path as a ``Runnable`` (build it with ``rag.chain()``).

    Args:
        answerer: the ``rag.answerer.Answerer`` (loaded models, store and parameters).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    answerer: Any = Field(description="The rag.answerer.Answerer that makes the answers.")
    name: Optional[str] = "newsrag"

    def stream(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[str | Stage | Answer]:
        """Answer ``input``: ``Stage`` events, text pieces as they are generated, then the ``Answer``
        (as ``rag.stream``), inside one callback run with a child run per stage.

        Args:
            input: the question, or ``{"question", "history", "filters", "as_of"}``.
            config: LangChain's run config (``callbacks``, ``tags``, ``metadata``, ``run_name``).

        Yields:
            ``Stage``, ``str``, then one ``Answer``.

        Raises:
            ValueError: the input is not a question.
            rag.errors.NewsragError: the question is too long, the store is empty, the model failed.
        """
        config = ensure_config(config)
        asked = read_question(input)
        run = get_callback_manager_for_config(config).on_chain_start(
            None, asked, name=config.get("run_name") or self.get_name(), run_id=config.pop("run_id", None)
        )
        answer = None
        try:
            for item in self.answerer.stream(asked.pop("question"), **asked, trace=CallbackTrace(run)):
                if isinstance(item, Answer):
                    answer = item
                yield item
        except BaseException as err:
            run.on_chain_error(err)
            raise
        run.on_chain_end(answer)

    def invoke(self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any) -> Answer:
        """The ``Answer`` to ``input`` (see ``stream``)."""
        answer = None
        for item in self.stream(input, config, **kwargs):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    async def astream(
        self, input: str | Question, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str | Stage | Answer]:
        """As ``stream``, each step run in a thread of the default executor (the event loop goes on
        while the answer is made). Closing it early closes the answer's stream."""
        items = self.stream(input, config, **kwargs)
        done = object()
        try:
            while (item := await run_in_executor(None, next, items, done)) is not done:
                yield item
        finally:
            await run_in_executor(None, items.close)
