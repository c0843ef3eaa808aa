"""Atomic file writes and output-path checks made before any work starts.

``write_bytes_atomic`` writes through a temporary file in the same folder, fsyncs and renames, so an
existing file is never left half-written; ``prepare_output`` and ``prepare_output_dir`` check that a
result can be written *before* a long training run, not after it.
"""

from __future__ import annotations

import os
import tempfile
from os import PathLike
from pathlib import Path
from typing import Any

from lstmkit.errors import ConfigError, ModelFileError


def write_bytes_atomic(path: Any, data: bytes, *, what: str = "model file") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and rename.

    A crash or an error part-way leaves the previous file (if any) untouched. An OSError (disk
    full, no permission) becomes a one-line :class:`ModelFileError` naming the file.
    """
    path = Path(os.fspath(path))
    if path.is_dir():
        raise ConfigError(f"filepath: expected a file path, found the directory {str(path)!r}")
    if path.exists() and not path.is_file():
        # Renaming over a device or pipe (e.g. /dev/null) would replace it with a regular file.
        raise ConfigError(f"filepath: expected a regular file path, found the special file {str(path)!r}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"filepath: the folder {str(folder)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise ModelFileError(f"{what} {str(path)!r}: cannot write in {str(folder)!r} ({e.strerror or e})") from e
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file 0600; give it the mode a plain open() would (0666 less the umask).
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):  # disk full, permissions...: the old file, if any, is untouched
            raise ModelFileError(f"{what} {str(path)!r}: could not be written ({e.strerror or e})") from e
        raise


def check_writable_folder(folder: Path, name: str, target: Path) -> None:
    """A one-line ConfigError when no file can be created in ``folder`` (checked by creating one)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lstmkit-write-check.", dir=folder)
    except OSError as e:
        raise ConfigError(f"{name}: cannot write {str(target)!r} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)


def prepare_output(output: str | PathLike[str] | None, example_name: str = "model.lstmkit",
                   name: str = "output") -> Path | None:
    """Check, before any training, that a model file can be written there; its folder is made now."""
    if output is None:
        return None
    if isinstance(output, bool) or not isinstance(output, (str, PathLike)) or not str(output).strip():
        raise ConfigError(f"{name}: expected a file path, found {type(output).__name__} {output!r}"[:300])
    path = Path(output).expanduser()
    if path.is_dir():
        raise ConfigError(f"{name}: {path} is a directory; give a file path such as {path / example_name}")
    if path.exists() and not path.is_file():
        raise ConfigError(f"{name}: expected a regular file path, found the special file {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{name}: cannot create directory {path.parent}: {e.strerror or e}") from None
    check_writable_folder(path.parent, name, path)
    if path.exists() and not os.access(path, os.W_OK) and os.geteuid() != 0:
        raise ConfigError(f"{name}: the file {str(path)!r} exists and is not writable")
    return path


def prepare_output_dir(out: str | PathLike[str], name: str = "--out") -> Path:
    """Create a benchmark's output folder (before any run); a file in the way is a one-line ConfigError."""
    if isinstance(out, bool) or not isinstance(out, (str, PathLike)) or not str(out).strip():
        raise ConfigError(f"{name}: expected a folder path, found {type(out).__name__} {out!r}"[:300])
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}: expected a folder, found the file {str(path)!r}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{name}: cannot create the folder {str(path)!r} ({e.strerror or e})") from None
    check_writable_folder(path, name, path)
    return path


__all__ = ["write_bytes_atomic", "prepare_output", "prepare_output_dir", "check_writable_folder"]
