# Shared by scripts/start and scripts/test: make ./.venv and install Consentry
# into it. Sourced, not run. Needs only Python 3.11+ (Debian 12's python3).

set -euo pipefail

ensure_venv() {
    local extras="$1"  # "" or "[dev]"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "consentry: Python 3.11 or newer is needed as '$python' (set PYTHON=...)" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! "$python" -m venv .venv 2>/dev/null; then
            rm -rf .venv
            # Debian ships venv separately from python3.
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
                "$python" -m venv .venv
            else
                echo "consentry: cannot create a virtual environment; on Debian: sudo apt-get install python3-venv" >&2
                exit 1
            fi
        fi
    fi
    # Reinstall only when the dependencies changed.
    local stamp=".venv/.consentry-installed"
    local want
    want="$(sha256sum < pyproject.toml | cut -d' ' -f1)$extras"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "consentry: installing into .venv (about a minute the first time)" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".$extras"
        echo "$want" > "$stamp"
    fi
}
