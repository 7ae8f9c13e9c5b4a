"""Consentry: a consent-gated marketing-communication service."""
