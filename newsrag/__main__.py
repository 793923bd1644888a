"""``python -m newsrag``: the same as the ``newsrag`` command."""

from newsrag.cli import main

main()
