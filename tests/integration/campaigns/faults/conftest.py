"""The campaign tests' fixtures: a real SMTP server that answers by recipient,
settings that send to it in batches of three, and the worker's context."""

from tests.integration.campaigns.test_campaigns import ctx, settings, sink

__all__ = ["ctx", "settings", "sink"]
