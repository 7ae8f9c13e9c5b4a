"""Running it for real: health checks, Prometheus metrics, structured logs and
``consentry status`` (docs/operations.md)."""
