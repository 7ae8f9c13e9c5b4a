"""The register's privacy notice and Article 30 record, generated from the
configuration and the code (``consentry notice``, docs/notice.md)."""
