"""The plain LangChain RAG tutorial pipeline, as a baseline in the same harness.

What the tutorial does, restated: split the articles with ``RecursiveCharacterTextSplitter``
(chunk_size=1000, chunk_overlap=200, add_start_index=True), embed them into a vector store, take the
top 4 chunks by similarity, join their texts with blank lines into ``{context}``, and send one human
message with the tutorial's RAG prompt to the chat model. Nothing else: no lexical retrieval, no
dates, no citation checking.

How it is scored here (fair, and stated in reports): ``answerable`` is False only when the model
says it does not know; it makes no citations, so citation metrics are n/a for it; ``retrieved``
are its 4 chunks, so recall@4 and MRR are measured as for any pipeline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_text_splitters import RecursiveCharacterTextSplitter

from rag.types import Answer, Article, Chunk, content_hash

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4
PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, just say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\n"
    "Question: {question} \nContext: {context} \nAnswer:"
)
_DONT_KNOW = re.compile(
    r"\b(?:do not|don't|don’t|does not|doesn't|cannot|can't|unable to) (?:know|determine|find|answer)"
    r"|\bnot (?:mentioned|provided|specified|stated|available) in\b"
    r"|\bno (?:information|mention)\b",
    re.IGNORECASE,
)


def split_article(article: Article) -> list[Chunk]:
    """The tutorial's chunks of one article, as ``Chunk`` records with exact offsets.

    Args:
        article: a stored article.

    Returns:
        Chunks with ``article.text[start:end] == text``.
    """
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, add_start_index=True
    )
    docs = splitter.split_documents([Document(page_content=article.text)])
    chunks: list[Chunk] = []
    for position, doc in enumerate(docs):
        start = int(doc.metadata.get("start_index", -1))
        if article.text[start : start + len(doc.page_content)] != doc.page_content:
            start = article.text.find(doc.page_content)
        if start < 0:
            continue
        end = start + len(doc.page_content)
        chunk_id = content_hash(f"{article.id}\0{start}\0{doc.page_content}")
        chunks.append(Chunk.of_span(article, start, end, id=chunk_id, position=position))
    return chunks


def build_store(store: Any, articles: Iterable[Article], progress: bool = True, batch: int = 32) -> int:
    """Split and add articles to the tutorial's own store (skipping ones already there).

    Chunks of ``batch`` articles are embedded in one call, then stored article by article.

    Args:
        store: a ``rag.store.Store`` opened on the tutorial's collection.
        articles: the corpus articles.
        progress: show a progress bar.
        batch: articles per embedding call.

    Returns:
        Number of chunks added.
    """
    from tqdm import tqdm

    todo = [a for a in articles if store.article_hash(a.id) != a.text_hash]
    added = 0
    with tqdm(total=len(todo), desc="tutorial store", unit="article", disable=not progress) as bar:
        for i in range(0, len(todo), batch):
            group = [(a, split_article(a)) for a in todo[i : i + batch]]
            texts = [c.text for _, chunks in group for c in chunks]
            vectors = store.embeddings.embed_documents(texts) if texts else []
            at = 0
            for article, chunks in group:
                added += store.put_article(article, chunks, vectors[at : at + len(chunks)])
                at += len(chunks)
                bar.update(1)
    return added


def says_dont_know(text: str) -> bool:
    """True when the answer says the model does not know (the tutorial's only refusal)."""
    return bool(_DONT_KNOW.search(text))


class TutorialPipeline:
    """Answers questions the way the tutorial does.

    Args:
        store: the tutorial's store (``dense_search`` is used).
        llm: a LangChain chat model (the same backend as our pipeline).
        k: chunks retrieved (the tutorial's 4).
    """

    def __init__(self, store: Any, llm: BaseChatModel, k: int = TOP_K) -> None:
        self.store = store
        self.llm = llm
        self.k = k

    def prompt(self, question: str, chunks: list[Chunk]) -> str:
        """The single human message sent to the model."""
        return PROMPT.format(question=question, context="\n\n".join(c.text for c in chunks))

    def ask(self, question: str) -> Answer:
        """Retrieve top-k by similarity, prompt, stream the answer (for time to first token).

        Args:
            question: the question.

        Returns:
            An ``Answer`` with no citations; ``answerable`` False only if it says it doesn't know.
        """
        t0 = time.perf_counter()
        chunks = [c for c, _ in self.store.dense_search(question, self.k)]
        t_retrieved = time.perf_counter()
        ttft = None
        parts: list[str] = []
        for piece in self.llm.stream([HumanMessage(content=self.prompt(question, chunks))]):
            text = piece.content if isinstance(piece.content, str) else str(piece.content)
            if text and ttft is None:
                ttft = time.perf_counter() - t0
            parts.append(text)
        total = time.perf_counter() - t0
        answer = "".join(parts).strip()
        timings = {"retrieve_s": round(t_retrieved - t0, 4), "total_s": round(total, 4)}
        if ttft is not None:
            timings["ttft_s"] = round(ttft, 4)
        return Answer(
            question=question,
            answer=answer,
            answerable=not says_dont_know(answer),
            citations=[],
            retrieved=chunks,
            timings=timings,
        )
