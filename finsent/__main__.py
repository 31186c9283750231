"""``python -m finsent`` is the ``finsent`` command."""

from finsent.cli import main

main()
