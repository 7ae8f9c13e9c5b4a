"""The register's health at a glance: the figures of the staff home page and
``GET /api/v1/dashboard``."""
