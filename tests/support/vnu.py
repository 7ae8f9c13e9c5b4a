"""The Nu HTML Checker (vnu.jar), fetched once into ``.cache/vnu/`` (not
committed) from the npm registry's ``vnu-jar`` package at a pinned version,
its archive's SHA-256 checked; and one run of it over many pages at once
(one JVM start: it takes seconds).

``python -m tests.support.vnu`` fetches it (scripts/test does, after
installing Java when it is missing)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

VERSION = "26.9.27"
ARCHIVE = f"https://registry.npmjs.org/vnu-jar/-/vnu-jar-{VERSION}.tgz"
ARCHIVE_SHA256 = "5970d3ffca91a627cf0965e5d91bb2e4242307c29292998de0b419d6a901b2b7"
JAR = Path(__file__).resolve().parents[2] / ".cache" / "vnu" / f"vnu-{VERSION}.jar"
TIMEOUT = 240  # seconds for one run over every page


def ensure_jar() -> Path:
    """The checker's jar, fetched and verified if it is not here yet."""
    if JAR.exists():
        return JAR
    with urllib.request.urlopen(ARCHIVE, timeout=120) as answer:
        archive = answer.read()
    digest = hashlib.sha256(archive).hexdigest()
    if digest != ARCHIVE_SHA256:
        raise RuntimeError(f"{ARCHIVE}: SHA-256 {digest}, expected {ARCHIVE_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as package:
        member = package.extractfile("package/build/dist/vnu.jar")
        assert member is not None
        JAR.parent.mkdir(parents=True, exist_ok=True)
        partial = JAR.with_suffix(".part")
        partial.write_bytes(member.read())
        partial.replace(JAR)
    return JAR


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise RuntimeError("the HTML check needs Java: apt-get install default-jre-headless")
    return found


@dataclass(frozen=True)
class Finding:
    page: str
    line: int | None
    message: str
    extract: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.message} [{self.extract.strip()}]"


def check(pages: dict[str, str], workdir: Path) -> list[Finding]:
    """The checker's errors over ``pages`` (a name → a whole HTML document),
    all in one run; warnings are left out."""
    names: dict[str, str] = {}
    files = []
    for number, (name, html) in enumerate(pages.items()):
        path = workdir / f"page-{number}.html"
        path.write_text(html, encoding="utf-8")
        names[str(path.resolve())] = name
        files.append(str(path))
    done = subprocess.run(
        [
            java(),
            "-Xss4m",
            "-jar",
            str(ensure_jar()),
            "--errors-only",
            "--format",
            "json",
            "--stdout",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise RuntimeError(f"vnu failed ({done.returncode}): {done.stderr[-2000:]}")
    report = json.loads(done.stdout or '{"messages": []}')
    return [
        Finding(
            page=names.get(_path_of(message.get("url", "")), message.get("url", "?")),
            line=message.get("lastLine"),
            message=message.get("message", ""),
            extract=message.get("extract", ""),
        )
        for message in report["messages"]
        if message.get("type") != "info"
    ]


def _path_of(url: str) -> str:
    """vnu names a file ``file:/tmp/x.html``."""
    return str(Path(url.removeprefix("file:")).resolve()) if url.startswith("file:") else url


if __name__ == "__main__":
    print(ensure_jar())
