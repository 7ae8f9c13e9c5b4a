"""Contact import from CSV: ``consentry import contacts`` and ``POST /api/v1/imports``."""
