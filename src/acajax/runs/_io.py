"""The files of a run: atomic writes, output folders and a lock per folder.

Every file acajax writes goes through :func:`atomic_write_bytes` (or a helper
built on it): the bytes go to a temporary file beside the target, are flushed
to disk (``fsync``) and renamed over the target, so a reader, a crash or a
full disk never leaves a half-written file behind: the target is either the
old file or the new one.

Before a command loads data or trains anything it checks its output folder
with :func:`prepare_output` (a folder, writable, not holding another run's
results unless forced) and takes the folder's :class:`FolderLock`, so that two
runs never write into one folder at once.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pathlib
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import fcntl

__all__ = ["FolderLock", "OutputError", "atomic_write_bytes", "atomic_write_json",
           "atomic_write_text", "prepare_output", "save_figure", "write_csv"]

LOCK_FILE = ".acajax.lock"
RUN_FILE = "meta.json"


def _file_mode() -> int:
  """What ``open`` would give a new file (0o666 less the umask); mkstemp gives 0o600."""
  umask = os.umask(0o022)
  os.umask(umask)
  return 0o666 & ~umask


# Read once, at import (changing the umask is not thread-safe).
_FILE_MODE = _file_mode()


class OutputError(OSError):
  """An output path that cannot take a run's files; the message names the path and the flag."""


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> pathlib.Path:
  """Writes ``data`` to ``path`` atomically (temporary file, fsync, rename).

  Examples:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_bytes(path, b"one").read_bytes()
    b'one'
  """
  path = pathlib.Path(path)
  handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
  try:
    with os.fdopen(handle, "wb") as f:
      os.fchmod(f.fileno(), _FILE_MODE)
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException as err:
    with contextlib.suppress(OSError):
      os.unlink(tmp)
    if isinstance(err, OSError) and err.filename is None:   # e.g. ENOSPC from write()
      raise OSError(err.errno, err.strerror, str(path)) from err
    raise
  with contextlib.suppress(OSError):      # the rename itself reaches the disk
    folder = os.open(path.parent, os.O_RDONLY)
    try:
      os.fsync(folder)
    finally:
      os.close(folder)
  return path


def atomic_write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
  """Writes UTF-8 ``text`` to ``path`` atomically."""
  return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any) -> pathlib.Path:
  """Writes ``data`` as indented JSON to ``path`` atomically."""
  return atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def write_csv(frame, path: str | os.PathLike, **kwargs) -> pathlib.Path:
  """Writes a pandas DataFrame as CSV, atomically (``index=False`` by default)."""
  kwargs.setdefault("index", False)
  buffer = io.StringIO()
  frame.to_csv(buffer, **kwargs)
  return atomic_write_text(path, buffer.getvalue())


def save_figure(fig, path: str | os.PathLike, **kwargs) -> pathlib.Path:
  """Renders a matplotlib figure (PNG by the path's suffix) and writes it atomically.

  The figure is rendered in memory first, so a full disk leaves no empty or
  partial image behind.
  """
  buffer = io.BytesIO()
  path = pathlib.Path(path)
  kwargs.setdefault("format", path.suffix.lstrip(".") or "png")
  fig.savefig(buffer, **kwargs)
  return atomic_write_bytes(path, buffer.getvalue())


def prepare_output(path: str | os.PathLike, *, flag: str = "--out", kind: str,
                   results: Iterable[str] = (), identity: Mapping[str, Any] | None = None,
                   force: bool = False) -> pathlib.Path:
  """Checks and creates an output folder before any loading or training.

  Args:
    path: the folder (created with its parents if missing).
    flag: how the user named it, for messages (``--out``, ``out_dir``).
    kind: the command writing there (``"sweep"``, ``"validate"``, ...).
    results: the file names this command writes; if any exists and the
      folder's ``meta.json`` does not record this same run (its ``kind`` and
      every item of ``identity``), the folder holds another run's results.
    identity: what makes two runs the same run (e.g. the spec's fingerprint),
      compared with the ``meta.json`` there.
    force: write over another run's results.

  Returns:
    The folder, as a path.

  Raises:
    OutputError: an empty path, a path that is a file, a folder that cannot
      be created or written, or one holding another run's results (without
      ``force``); the message names the path and what to do.
  """
  text = os.fspath(path)
  if not str(text).strip():
    raise OutputError(f"{flag}: an empty path; name a folder for the results")
  out = pathlib.Path(text)
  if out.exists() and not out.is_dir():
    raise OutputError(f"{flag} {out}: is a file, not a folder; name a folder for the results")
  try:
    out.mkdir(parents=True, exist_ok=True)
  except OSError as err:
    raise OutputError(f"{flag} {out}: cannot create the folder ({err.strerror})") from None
  if not os.access(out, os.W_OK | os.X_OK):
    raise OutputError(f"{flag} {out}: the folder is not writable; choose another")
  try:
    handle, probe = tempfile.mkstemp(dir=out, prefix=".acajax-write-test.")
    os.close(handle)
    os.unlink(probe)
  except OSError as err:
    raise OutputError(f"{flag} {out}: cannot write into the folder ({err.strerror})") from None
  present = [name for name in results if (out / name).exists()]
  if present and not force and not _same_run(out / RUN_FILE, kind, identity or {}):
    raise OutputError(f"{flag} {out}: holds the results of another run ({', '.join(present)}); "
                      "choose another folder, or pass --force to write over them")
  return out


def _same_run(meta_path: pathlib.Path, kind: str, identity: Mapping[str, Any]) -> bool:
  try:
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
  except (OSError, ValueError):
    return False
  if not isinstance(meta, dict) or meta.get("kind") != kind:
    return False
  return all(meta.get(key) == value for key, value in identity.items())


class FolderLock:
  """An exclusive lock on an output folder, held while a run writes there.

  Uses ``fcntl.flock`` on ``<folder>/.acajax.lock``: the operating system
  releases it when the process ends, even on SIGKILL, so a killed run never
  leaves a stale lock.

  Examples:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with FolderLock(folder):
    ...   FolderLock(folder).acquire()
    Traceback (most recent call last):
    ...
    acajax.runs._io.OutputError: ...: another acajax run (process ...) is writing into this folder; wait for it to finish or choose another folder
  """

  def __init__(self, folder: str | os.PathLike, flag: str = "--out"):
    self.folder = pathlib.Path(folder)
    self.flag = flag
    self._handle = None

  def acquire(self) -> FolderLock:
    handle = open(self.folder / LOCK_FILE, "a+")  # noqa: SIM115 (held until release)
    try:
      fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
      handle.seek(0)
      owner = handle.read().strip() or "?"
      handle.close()
      if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
        raise OutputError(f"{self.flag} {self.folder}: another acajax run (process {owner}) is "
                          "writing into this folder; wait for it to finish or choose another "
                          "folder") from None
      raise
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    self._handle = handle
    return self

  def release(self) -> None:
    if self._handle is not None:
      fcntl.flock(self._handle, fcntl.LOCK_UN)
      self._handle.close()
      self._handle = None

  def __enter__(self) -> FolderLock:
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()


@contextlib.contextmanager
def locked_output(path: str | os.PathLike, **kwargs) -> Iterator[pathlib.Path]:
  """:func:`prepare_output`, then the folder's :class:`FolderLock` for the block."""
  out = prepare_output(path, **kwargs)
  with FolderLock(out, kwargs.get("flag", "--out")):
    yield out
