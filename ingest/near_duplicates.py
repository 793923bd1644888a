"""Near-duplicate articles: the same story stored once, whichever file or feed it came from.

An article uploaded as a ``.jsonl`` record and again as a ``.txt`` file (title line first), with
other whitespace, with a byline added, or as a syndicated copy (dateline, footer, a paragraph
less) has a different text hash but nearly the same words. Each article's text becomes the set of
its word 5-grams ("shingles", over ``rag.text.words``: case, punctuation and whitespace aside; a
first line repeating the title is left out), summarised by a MinHash signature; ``MinHashLSH``
(datasketch) finds the stored articles whose signatures are close, and a candidate counts as the
same article when the estimated Jaccard similarity of the two shingle sets is at least
``THRESHOLD``.

``THRESHOLD`` was chosen on rtqa-dev (``python -m evals.near_duplicates``, exact Jaccard of the
shingle sets over 30 sampled articles): copies re-saved with a title line or other whitespace score
1.0, with a byline 0.89 and up, syndicated copies 0.78 and up, while the most similar two different
articles of its 888 (the same story on different days: the April and March full moons, two Olivia
Newton-John tributes, Shinzo Abe's shooting and his death) score at most 0.38. 0.6 lies between,
with room on both sides for MinHash's estimation error (about 0.04 with 128 permutations).

The signatures are saved beside the store, tagged with the store's revision like the BM25 index;
when the revision differs (another process wrote, articles were removed) the saved signatures of
articles whose text and title are unchanged are reused and the rest are computed from the stored
texts, so the index always matches the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.store import Store
from rag.text import words
from rag.types import Article, content_hash

THRESHOLD = 0.6
NUM_PERM = 128
SHINGLE_WORDS = 5
SCHEME = "affine32"  # datasketch's permutation scheme, named so saved signatures stay comparable
_FORMAT = 1  # bump when the shingles or signatures change, so saved indexes are rebuilt


def article_key(title: str, text_hash: str) -> str:
    """What a signature depends on: the article's title (a first line repeating it is skipped) and text."""
    return content_hash(f"{title}\n{text_hash}")


def shingles(title: str, text: str) -> set[bytes]:
    """The word 5-grams of an article's text, without a first line that only repeats its title.

    Args:
        title: the article's title.
        text: its text.

    Returns:
        The shingles, UTF-8 encoded (a text shorter than five words is one shingle).
    """
    first_line, _, rest = text.lstrip().partition("\n")
    tokens = words(rest) if rest and words(first_line) == words(title) else words(text)
    k = SHINGLE_WORDS
    return {" ".join(tokens[i:i + k]).encode("utf-8") for i in range(max(1, len(tokens) - k + 1))}


class NearDuplicateIndex:
    """MinHash signatures of the stored articles, searchable with ``MinHashLSH``.

    Args:
        threshold: estimated Jaccard similarity from which two articles are the same article.
        num_perm: permutations per signature.
    """

    def __init__(self, threshold: float = THRESHOLD, num_perm: int = NUM_PERM) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._entries: dict[str, tuple[str, object]] = {}  # article id -> (key, MinHash)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._entries

    def signature(self, title: str, text: str):
        """The MinHash of an article's shingles."""
        from datasketch import MinHash

        m = MinHash(num_perm=self.num_perm, scheme=SCHEME)
        m.update_batch(list(shingles(title, text)))
        return m

    def signature_of(self, article: Article):
        """The MinHash of an ``Article``."""
        return self.signature(article.title, article.text)

    def _saved(self, hashvalues: np.ndarray):
        from datasketch import MinHash

        return MinHash(num_perm=self.num_perm, hashvalues=hashvalues, scheme=SCHEME)

    def add(self, article_id: str, key: str, minhash) -> None:
        """Index (or re-index) an article's signature under its id."""
        self.remove(article_id)
        self._lsh.insert(article_id, minhash)
        self._entries[article_id] = (key, minhash)

    def remove(self, article_id: str) -> None:
        """Forget an article (nothing happens for an unknown id)."""
        if self._entries.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def match(self, minhash, exclude: str | None = None) -> tuple[str, float] | None:
        """The indexed article most similar to ``minhash``, if it is a near-duplicate.

        Args:
            minhash: the new article's signature.
            exclude: an id never to match (the article's own stored version).

        Returns:
            ``(article id, estimated Jaccard similarity)``, or None when none reaches the threshold.
        """
        best: tuple[str, float] | None = None
        for aid in self._lsh.query(minhash):
            if aid == exclude:
                continue
            similarity = float(minhash.jaccard(self._entries[aid][1]))
            if similarity >= self.threshold and (best is None or (similarity, aid) > (best[1], best[0])):
                best = (aid, similarity)
        return best

    # --- persistence, in step with the store ---------------------------------------------------
    def _params(self) -> dict:
        return {"format": _FORMAT, "num_perm": self.num_perm, "shingle_words": SHINGLE_WORDS, "scheme": SCHEME}

    def save(self, folder: Path, revision: str) -> None:
        """Write the signatures under ``folder`` tagged with the store ``revision``."""
        folder.mkdir(parents=True, exist_ok=True)
        ids = list(self._entries)
        hashvalues = np.array([self._entries[i][1].hashvalues for i in ids], dtype=np.uint64).reshape(
            len(ids), self.num_perm
        )
        tmp = folder / "signatures.tmp.npz"
        np.savez(tmp, ids=np.array(ids, dtype=str), keys=np.array([self._entries[i][0] for i in ids], dtype=str),
                 hashvalues=hashvalues)
        tmp.replace(folder / "signatures.npz")
        (folder / "revision.json").write_text(json.dumps({"revision": revision, **self._params()}), encoding="utf-8")

    def _load(self, folder: Path) -> tuple[str | None, dict[str, tuple[str, np.ndarray]]]:
        """``(saved revision, {article id: (key, hash values)})``; nothing when missing or unusable."""
        try:
            saved = json.loads((folder / "revision.json").read_text(encoding="utf-8"))
            if any(saved.get(k) != v for k, v in self._params().items()):
                return None, {}
            with np.load(folder / "signatures.npz") as data:
                rows = zip(data["ids"].tolist(), data["keys"].tolist(), data["hashvalues"])
                return saved.get("revision"), {aid: (key, hv) for aid, key, hv in rows}
        except (OSError, ValueError, KeyError):
            return None, {}

    @classmethod
    def for_store(cls, store: Store, folder: Path | None) -> "NearDuplicateIndex":
        """The index of every article in ``store``: loaded from ``folder`` when current, else brought
        up to date (saved signatures of unchanged articles reused, the rest computed from the
        stored texts) and saved.

        Args:
            store: the store.
            folder: where the index is kept (None: memory only, e.g. for a Chroma server).

        Returns:
            A ready index.
        """
        index = cls()
        revision = store.revision()
        saved_revision, saved = index._load(folder) if folder is not None else (None, {})
        if saved_revision == revision:
            for aid, (key, hv) in saved.items():
                index.add(aid, key, index._saved(hv))
            return index
        stored = store.article_keys()
        missing = []
        for aid, (text_hash, title) in stored.items():
            key = article_key(title, text_hash)
            if aid in saved and saved[aid][0] == key:
                index.add(aid, key, index._saved(saved[aid][1]))
            else:
                missing.append(aid)
        for article in store.articles(missing):
            index.add(article.id, article_key(article.title, article.text_hash), index.signature_of(article))
        if folder is not None:
            index.try_save(folder, revision)
        return index

    def try_save(self, folder: Path | None, revision: str) -> None:
        """``save``, skipped when there is no folder; a read-only folder only costs a rebuild later."""
        if folder is None:
            return
        try:
            self.save(folder, revision)
        except OSError:
            pass


def index_folder(store: Store) -> Path | None:
    """Where a store's near-duplicate index is kept (None for a Chroma server: memory only)."""
    return store.path / "near_duplicates" / store.collection_name if store.local else None

