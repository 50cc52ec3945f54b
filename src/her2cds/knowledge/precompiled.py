"""Precompiled knowledge files: each validated knowledge file kept in a user cache directory (D14.3).

Reading the knowledge base is mostly YAML parsing and validation; both are pure functions of the file's bytes
and of the code that defines the models. So the validated model of each file is stored (pickle) under a key
that hashes the file's bytes (SHA-256), the model class, and a signature of the installed her2cds code
(path, size and modification time of every module), Python and pydantic. Any change to a YAML file or to the
code gives a new key: a stale entry is never read. The first run (or ``her2cds kb precompile``) writes the
entries; later runs load them without parsing YAML or validating.

Where: ``$HER2CDS_CACHE_DIR`` if set (``off`` disables the cache), else ``$XDG_CACHE_HOME/her2cds``, else
``~/.cache/her2cds`` — never inside the package. A directory or entry that cannot be created, read or written is
skipped silently (the YAML is read as before). Entries are only read from a directory and files owned by the
current user and not writable by anyone else, since unpickling trusts the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

_M = TypeVar("_M", bound=BaseModel)
_FORMAT = "1"


def cache_dir() -> Path | None:
    """The directory of precompiled entries, or None when the cache is switched off."""
    configured = os.environ.get("HER2CDS_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false", "no") else Path(configured) / "kb"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "her2cds" / "kb"


@functools.cache
def code_signature() -> str:
    """A hash of what decides the shape of a validated model: the her2cds modules (path, size, mtime),
    the Python and pydantic versions and the entry format. Computed once per process."""
    import pydantic

    from her2cds._version import __version__

    package = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    digest = hashlib.sha256(f"{_FORMAT}|{__version__}|{sys.version}|{pydantic.VERSION}".encode())
    modules: list[str] = []  # os.walk + os.stat: a fifth of the time of Path.rglob, which start-up pays on every run
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        modules.extend(os.path.join(folder, name) for name in files if name.endswith(".py"))
    for path in sorted(os.path.relpath(m, package) for m in modules):
        info = os.stat(os.path.join(package, path))
        digest.update(f"|{path}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.hexdigest()


def entry_key(model: type[BaseModel], content: bytes) -> str:
    digest = hashlib.sha256(code_signature().encode())
    digest.update(f"|{model.__module__}.{model.__qualname__}|".encode())
    digest.update(content)
    return digest.hexdigest()


def _trusted(path: Path) -> bool:
    """Owned by this user and writable by nobody else (POSIX); on other systems, present."""
    try:
        info = path.stat()
    except OSError:
        return False
    if not hasattr(os, "getuid"):  # pragma: no cover - not POSIX
        return True
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def fetch(model: type[_M], content: bytes) -> _M | None:
    """The validated model of a file with these bytes, if a trusted entry exists; else None."""
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{entry_key(model, content)}.pickle"
    if not (_trusted(folder) and _trusted(path)):
        return None
    try:
        with path.open("rb") as fh:
            value = pickle.load(fh)  # a trusted, content-addressed entry written by store()
    except Exception:  # a truncated or foreign entry: read the YAML instead
        return None
    return value if type(value) is model else None


def store(model: type[_M], content: bytes, value: _M) -> None:
    """Write the entry atomically (temporary file, then rename); do nothing when that is not possible."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(folder):
            return
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / f"{entry_key(model, content)}.pickle")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, pickle.PicklingError):
        return
