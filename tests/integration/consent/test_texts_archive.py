"""The consent texts archive: one immutable, hashed record per version and
language; the same words are the same version, changed words the next."""

from __future__ import annotations

import hashlib

import pytest

from service.consent import archive
from service.db import SessionMaker, session_scope
from service.errors import NotFound


async def test_versions_follow_the_words(sessionmaker: SessionMaker) -> None:
    key = "banner:analytics"
    async with session_scope(sessionmaker) as session:
        first = await archive.archive(session, key=key, language="fi", body="Sallin analytiikan.")
        same = await archive.archive(session, key=key, language="fi", body="Sallin analytiikan.")
        english = await archive.archive(session, key=key, language="en", body="I allow analytics.")
        changed = await archive.archive(session, key=key, language="fi", body="Sallin tilastot.")
        first_id, changed_id = first.id, changed.id
    assert same.id == first.id and first.version == 1
    assert english.version == 1 and english.id != first.id
    assert changed.version == 2 and changed.id != first.id
    assert first.hash == hashlib.sha256(b"Sallin analytiikan.").hexdigest()
    assert changed.hash == hashlib.sha256(b"Sallin tilastot.").hexdigest()
    assert archive.text_hash("ä") == hashlib.sha256(b"\xc3\xa4").hexdigest()
    async with session_scope(sessionmaker) as session:
        assert first_id is not None and changed_id is not None
        old = await archive.get(session, first_id)
        assert (old.version, old.body) == (1, "Sallin analytiikan.")  # still readable
        assert [(t.language, t.version) for t in await archive.versions(session, key)] == [
            ("en", 1),
            ("fi", 1),
            ("fi", 2),
        ]
        assert set(await archive.many(session, [first_id, changed_id])) == {first_id, changed_id}
        back = await archive.archive(session, key=key, language="fi", body="Sallin analytiikan.")
        assert back.version == 3  # back to old words: a new version, the history kept
        with pytest.raises(NotFound):
            await archive.get(session, 10**9)
