"""Another process for the store-writer tests: ``write STORE ID WORDS`` stores one article;
``hold STORE`` takes the store's write lock, prints ``holding`` and keeps it until killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from conftest import FakeEmbeddings
from rag.store import Store
from test_store_writers import article


def main(argv: list[str]) -> int:
    command, path = argv[0], Path(argv[1])
    store = Store(path, "news", FakeEmbeddings())
    if command == "write":
        store.put_article(*article(argv[2], argv[3]))
        print("written", flush=True)
        return 0
    with store.writing():
        print("holding", flush=True)
        while True:
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
