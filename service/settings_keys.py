"""The two keys, ``CONSENTRY_SECRET_KEY`` and ``CONSENTRY_DATA_KEY``: given, and
then not guessable in production; or, in dev, generated once and kept under
``CONSENTRY_VAR_DIR``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from service import settings_readers as read
from service.settings_readers import PREFIX, SettingsError


def secret(environ: dict[str, str], name: str, *, production: bool, var_dir: Path) -> str:
    """A key from the environment; in dev, generated once and kept under var/.

    Keeping it on disk makes tokens and encrypted identity codes survive a restart
    of the dev service. Production refuses to start without a real key.
    """
    raw = read.text(environ, name)
    if raw is not None:
        if len(raw) < 32:
            raise SettingsError(f"{PREFIX}{name}: must be at least 32 characters long")
        if production and guessable(raw):
            raise SettingsError(
                f"{PREFIX}{name}: looks like a placeholder or example value; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return raw
    if production:
        raise SettingsError(f"{PREFIX}{name}: required when CONSENTRY_ENV=production")
    key_file = var_dir / name.lower()
    try:
        if not key_file.exists():
            create_key_file(key_file)
        return key_file.read_text().strip()
    except OSError as exc:
        raise SettingsError(
            f"{PREFIX}VAR_DIR: cannot keep the generated {PREFIX}{name} in {var_dir}: "
            f"{exc.strerror or exc}"
        ) from None


# Words of the placeholders people paste from examples and templates; a key
# from a random generator contains none of them (in the same letter case).
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "example", "placeholder", "secret")
# A random 32-character key has ~25 different characters; one with fewer than
# this is typed by hand ("x" * 32, "0123456789" * 4).
_MIN_DISTINCT_CHARACTERS = 12


def guessable(key: str) -> bool:
    """True for a key production must refuse: a placeholder, an example or a
    hand-typed repetition (the checks are cheap; the length is checked apart)."""
    lowered = key.lower()
    return (
        any(word in lowered for word in _PLACEHOLDER_WORDS)
        or len(set(key)) < _MIN_DISTINCT_CHARACTERS
    )


def create_key_file(key_file: Path) -> None:
    """Write a new key to `key_file` (mode 0600) unless another process won the race.

    The key is written to a private temporary file and then hard-linked into
    place, so a process starting at the same moment (`consentry run` and a
    `consentry user add`, say) never reads a half-written or empty key, and the
    first key written is the one every process keeps.
    """
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)
