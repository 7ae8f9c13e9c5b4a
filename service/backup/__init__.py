"""Encrypted backups of the database that restore without bringing an erased person back.

``consentry backup create|restore|list|prune`` (service.backup.cli) and the
nightly job (workers/backup.py); docs/backup.md describes them.
"""
