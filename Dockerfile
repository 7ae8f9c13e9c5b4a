# The Consentry image: the API (uvicorn), the queue worker, the inbound mail
# listener and every `consentry` command run from it (docs/deployment.md).
FROM python:3.11-slim-bookworm

# `consentry backup` runs pg_dump and pg_restore, which must be at least as new
# as the server: the client of the server's major version, from the PostgreSQL
# project's apt repository (Debian bookworm's own is 15). docker-compose.yml
# passes the major version of its postgres image. service/backup/postgres.py
# finds the tools in /usr/lib/postgresql/<major>/bin, checked at the end.
ARG PG_MAJOR=16

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    install -d /usr/share/postgresql-common/pgdg; \
    curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc \
        https://www.postgresql.org/media/keys/ACCC4CF8.asc; \
    echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
        > /etc/apt/sources.list.d/pgdg.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends "postgresql-client-${PG_MAJOR}"; \
    apt-get purge -y --auto-remove curl; \
    rm -rf /var/lib/apt/lists/*; \
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump"; \
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/pg_restore"

RUN useradd --create-home --uid 10001 consentry
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY workers ./workers
COPY templates ./templates
# Editable, so the top-level templates/ folder is found beside the packages.
# The folders of the worker's volumes (docker-compose.yml) are made here, owned
# by the service's user: Docker gives a new named volume the image's ownership.
RUN pip install -e . \
    && mkdir -p /app/var /backups /transfers \
    && chown consentry /app/var /backups /transfers \
    && chmod 0700 /backups /transfers
USER consentry
EXPOSE 8000
CMD ["uvicorn", "--factory", "service.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--no-access-log"]
