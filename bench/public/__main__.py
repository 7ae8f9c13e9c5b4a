"""``python -m bench.public``: see bench/public/__init__.py."""

from bench.public.cli import main

main()
