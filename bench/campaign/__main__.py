"""``python -m bench.campaign``: see bench/campaign/__init__.py."""

from bench.campaign.cli import main

main()
