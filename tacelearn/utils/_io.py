"""Atomic writes that respect the umask and never destroy what tacelearn did not write.

A reader never sees a half-written file or folder: files are written under a temporary name
in the same folder and renamed; folders (reports, saved models) are built under a hidden
``.<name>.<pid>@<host>~<random>.partial`` name and moved into place at the end. A folder is
replaced only when it carries a marker tacelearn wrote, never when it holds a path the caller
protects (the cohort's manifest and images, a cache), and never when another process created
or replaced it while this one was working. Staging folders of runs that died (SIGKILL, power
loss) are removed by the next run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "current_umask",
    "remove_stale_partials",
]

#: A staging folder of another machine is removed once it is this old (its owner cannot be
#: asked whether it is alive).
STALE_PARTIAL_SECONDS = 7 * 24 * 3600
_PARTIAL_SUFFIX = ".partial"
_STAGING_SUFFIXES = (_PARTIAL_SUFFIX, ".old")


def current_umask():
    """The process umask (read without changing it for longer than the call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _chmod_default(path, *, directory):
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would have given it."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    The file gets the permissions the umask allows, as a plain ``open(path, "wb")`` would.
    Missing parent folders are created.

    Parameters
    ----------
    path : str or path-like
        The file to write; an existing file is replaced.
    data : bytes
        The new content.

    See Also
    --------
    atomic_write_text : The same for text.
    atomic_directory : Build a whole folder and move it into place.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.utils import atomic_write_bytes
    >>> path = Path(tempfile.mkdtemp()) / "scores.csv"
    >>> atomic_write_bytes(path, b"patient_id,score\\n")
    >>> path.read_bytes()
    b'patient_id,score\\n'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        _chmod_default(tmp, directory=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    path : str or path-like
        The file to write; an existing file is replaced.
    text : str
        The new content.
    encoding : str, default="utf-8"
        How ``text`` is encoded.

    See Also
    --------
    atomic_write_bytes : The same for bytes.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.utils import atomic_write_text
    >>> path = Path(tempfile.mkdtemp()) / "summary.json"
    >>> atomic_write_text(path, '{"auc": 0.822}')
    >>> path.read_text()
    '{"auc": 0.822}'
    """
    atomic_write_bytes(path, text.encode(encoding))


def _identity(path):
    """(device, inode, modification time) of ``path``, or None when it does not exist."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns


def _is_within(path, folder):
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def _check_replaceable(path, replaceable, protect):
    """Refuse to replace ``path`` unless it is safe to delete."""
    inside = [str(p) for p in protect if p is not None and _is_within(p, path)]
    if inside:
        shown = ", ".join(inside[:3]) + (f" and {len(inside) - 3} more" if len(inside) > 3
                                          else "")
        raise FileExistsError(f"refusing to replace {path}: it holds {shown}, which must not "
                              "be deleted; choose another output folder")
    if path.is_dir() and not any(path.iterdir()):
        return
    if not path.is_dir():
        raise FileExistsError(f"refusing to replace {path}: it is a file, not a folder")
    if replaceable is None or not replaceable(path):
        raise FileExistsError(f"refusing to replace {path}: it was not written by tacelearn "
                              "(it lacks the marker file tacelearn writes); remove it yourself "
                              "or choose another output folder")


def _host():
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())[:40]


def _staging_prefix(path):
    """``.<name>.<pid>@<host>~``: whose staging folder this is, for the next run to check."""
    return f".{path.name}.{os.getpid()}@{_host()}~"


def _owner_is_dead(candidate, prefix):
    """Whether the staging folder ``candidate`` belongs to a process that no longer runs."""
    pid_text, _, rest = candidate.name[len(prefix):].partition("@")
    host = rest.rpartition("~")[0]
    if host != _host() or not pid_text.isdigit():
        # Another machine's (or an unreadable name): removed only once it is very old.
        with contextlib.suppress(OSError):
            return time.time() - candidate.stat().st_mtime > STALE_PARTIAL_SECONDS
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def remove_stale_partials(path):
    """Remove the staging folders of ``path`` left by runs that died; return their names."""
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.iterdir():
        name = candidate.name
        if (name.startswith(prefix) and name.endswith(_STAGING_SUFFIXES) and "@" in name
                and candidate.is_dir() and _owner_is_dead(candidate, prefix)):
            shutil.rmtree(candidate, ignore_errors=True)
            removed.append(name)
    return removed


@contextlib.contextmanager
def atomic_directory(path, *, overwrite=False, replaceable=None, protect=()):
    """Build a folder under a temporary name and move it to ``path`` only on success.

    On an exception (``KeyboardInterrupt`` and the ``SystemExit`` of a SIGTERM handler
    included) the temporary folder is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The folder to create.
    overwrite : bool, default=False
        Replace an existing ``path`` at the end, if ``replaceable(path)`` says it is a
        folder tacelearn wrote (or it is empty). Without it, an existing non-empty ``path``
        is an error, before anything is done.
    replaceable : callable, optional
        ``replaceable(folder) -> bool``: whether an existing folder may be deleted (it holds
        the marker file of what is being written). ``None``: only empty folders are.
    protect : iterable of path-like, default=()
        Paths that must survive: a ``path`` that holds any of them is never replaced.

    Yields
    ------
    staging : pathlib.Path
        The temporary folder, next to ``path``, to write the content into.

    Raises
    ------
    FileExistsError
        If ``path`` exists and may not be replaced, or if another process created or
        replaced ``path`` while the folder was being built (nothing is then moved).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.utils import atomic_directory
    >>> target = Path(tempfile.mkdtemp()) / "report"
    >>> with atomic_directory(target) as staging:
    ...     _ = (staging / "index.html").write_text("<html></html>")
    >>> sorted(p.name for p in target.iterdir())
    ['index.html']
    """
    path = Path(path)
    protect = list(protect)
    if path.exists():
        if not overwrite and not (path.is_dir() and not any(path.iterdir())):
            raise FileExistsError(f"output folder already exists: {path} (pass overwrite=True "
                                  "to replace it)")
        _check_replaceable(path, replaceable, protect)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    before = _identity(path)
    tmp = Path(tempfile.mkdtemp(prefix=_staging_prefix(path), suffix=_PARTIAL_SUFFIX,
                                dir=path.parent))
    try:
        _chmod_default(tmp, directory=True)
        yield tmp
        _move_into_place(tmp, path, before, replaceable, protect)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp, path, before, replaceable, protect):
    if _identity(path) != before:
        raise FileExistsError(f"{path} was created or replaced by another process while this "
                              "one was writing it; nothing was overwritten (run again with "
                              "another output folder)")
    if before is None:
        try:
            os.rename(tmp, path)
        except OSError as error:
            raise FileExistsError(f"{path} was created by another process at the last moment; "
                                  f"nothing was overwritten ({error.strerror})") from None
        return
    _check_replaceable(path, replaceable, protect)
    old = path.with_name(f"{_staging_prefix(path)}{time.monotonic_ns()}.old")
    os.rename(path, old)
    try:
        os.rename(tmp, path)
    except OSError:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
