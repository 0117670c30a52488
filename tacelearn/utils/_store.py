"""One content-addressed cache store for everything tacelearn computes once and reuses.

Patches, radiomics features and trained CNN weights are all cached the same way: an entry is
a folder named by a hash of what determines its content (file stamps or bytes, settings,
training data), holding arrays in a safetensors file and plain JSON, with a SHA-256 of every
file in the entry's ``entry.json``. Nothing in a store is ever unpickled. Entries are written
under a temporary name and renamed, so readers never see half an entry and two processes
storing the same entry at once both succeed. An entry that is corrupt, truncated, not finite
or fails the caller's check is deleted with a :class:`CacheWarning` naming it, and the caller
computes it again: a damaged cache costs time, never a wrong answer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path, PurePath
from typing import NamedTuple

import numpy as np

__all__ = ["CacheWarning", "ContentStore", "StoreEntry", "as_store", "content_key"]

#: Bumped when the layout of an entry changes; entries of another version are recomputed.
STORE_FORMAT_VERSION = 1
_ENTRY_FILE = "entry.json"
_ARRAYS_FILE = "arrays.safetensors"
_KEY_PATTERN = re.compile(r"^[0-9a-f]{64}$")
_NAMESPACE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
#: Staging folders older than this are left by dead writers and removed by the next writer.
STALE_STAGING_SECONDS = 6 * 3600


class CacheWarning(UserWarning):
    """A cache entry was unusable (corrupt, truncated, not finite...) and will be recomputed.

    The entry is deleted and the caller computes its content again, so the warning costs
    time, never a wrong answer; filter it with :func:`warnings.simplefilter` to silence it.

    See Also
    --------
    ContentStore.load : Where entries are checked, and discarded with this warning.

    Examples
    --------
    >>> import tempfile
    >>> import warnings
    >>> import numpy as np
    >>> from tacelearn.utils import CacheWarning, ContentStore, content_key
    >>> store = ContentStore(tempfile.mkdtemp())
    >>> key = content_key("example")
    >>> store.save("demo", key, arrays={"x": np.ones(2)})
    >>> arrays_file = store.entry_folder("demo", key) / "arrays.safetensors"
    >>> _ = arrays_file.write_bytes(b"truncated")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     entry = store.load("demo", key)
    >>> entry is None, caught[0].category is CacheWarning
    (True, True)
    """


class StoreEntry(NamedTuple):
    """What a store holds under one key: named arrays and JSON-ready metadata.

    Returned by :meth:`ContentStore.load`; a named tuple, so ``arrays, meta = entry`` works.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        The numeric arrays stored (read-only when shared through the store's memory).
    meta : dict
        The JSON metadata stored with them.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.utils import StoreEntry
    >>> entry = StoreEntry(arrays={"x": np.zeros(2)}, meta={"spacing_mm": 1.0})
    >>> entry.meta["spacing_mm"]
    1.0
    """

    arrays: dict
    meta: dict


# ----------------------------------------------------------------------------- keys
def _feed(digest, value):
    """Feed a canonical, type-tagged encoding of ``value`` to ``digest``."""
    if value is None:
        digest.update(b"N")
    elif isinstance(value, (bool, np.bool_)):
        digest.update(b"B1" if value else b"B0")
    elif isinstance(value, (int, np.integer)):
        text = str(int(value)).encode()
        digest.update(b"I" + struct.pack("<Q", len(text)) + text)
    elif isinstance(value, (float, np.floating)):
        digest.update(b"F" + float(value).hex().encode() + b";")
    elif isinstance(value, str):
        data = value.encode("utf-8")
        digest.update(b"S" + struct.pack("<Q", len(data)) + data)
    elif isinstance(value, bytes):
        digest.update(b"Y" + struct.pack("<Q", len(value)) + value)
    elif isinstance(value, PurePath):
        _feed(digest, ("path", str(value)))
    elif isinstance(value, np.ndarray):
        _feed_array(digest, value)
    elif isinstance(value, (tuple, list)):
        _feed_sequence(digest, value)
    elif isinstance(value, dict):
        _feed_dict(digest, value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        _feed(digest, (f"{type(value).__module__}.{type(value).__qualname__}",
                       {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}))
    else:
        raise TypeError(f"cannot key a cache entry on a {type(value).__name__}: use numbers, "
                        "text, bytes, paths, numpy arrays, dataclasses and tuples/lists/dicts "
                        "of them")


def _feed_sequence(digest, sequence):
    digest.update((b"T" if isinstance(sequence, tuple) else b"L")
                  + struct.pack("<Q", len(sequence)))
    for item in sequence:
        _feed(digest, item)


def _feed_dict(digest, mapping):
    keys = list(mapping)
    if not all(isinstance(key, str) for key in keys):
        raise TypeError(f"cache keys take dicts with str keys only, got keys {keys!r}")
    digest.update(b"D" + struct.pack("<Q", len(keys)))
    for key in sorted(keys):
        _feed(digest, key)
        _feed(digest, mapping[key])


def _feed_array(digest, array):
    if array.dtype == object:
        digest.update(b"O" + struct.pack("<Q", array.ndim) + struct.pack(
            f"<{array.ndim}Q", *array.shape))
        for item in array.ravel().tolist():
            _feed(digest, item)
        return
    header = f"{array.dtype.str}|{array.shape}".encode()
    digest.update(b"A" + struct.pack("<Q", len(header)) + header)
    digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))


def content_key(*parts):
    """A SHA-256 hex digest of ``parts``, stable across processes, machines and versions.

    Unlike a hash of a pickle, the encoding is defined here, value by value: the same numbers,
    text, arrays (dtype, shape and bytes) and containers give the same key anywhere.

    Parameters
    ----------
    *parts
        ``None``, bools, ints, floats, str, bytes, paths, numpy arrays, dataclass instances,
        and tuples, lists and str-keyed dicts of these.

    Returns
    -------
    key : str
        64 hexadecimal characters.

    Examples
    --------
    >>> import numpy as np
    >>> from tacelearn.utils import content_key
    >>> content_key("patches", np.zeros(3)) == content_key("patches", np.zeros(3))
    True
    >>> content_key(1) == content_key(1.0)
    False
    """
    digest = hashlib.sha256()
    _feed(digest, parts)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- store
def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_name(kind, value, pattern):
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"invalid cache {kind} {value!r}")


class _MemoryLayer:
    """Entries last used, in this process, bounded in bytes; least recently used dropped."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._entries = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _size(entry):
        return sum(array.nbytes for array in entry.arrays.values())

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key, entry):
        size = self._size(entry)
        if size > self.max_bytes:
            return
        for array in entry.arrays.values():
            array.setflags(write=False)  # shared by every later reader: guard against edits
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = entry
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= self._size(dropped)

    def clear(self):
        with self._lock:
            self._entries.clear()
            self._bytes = 0


class ContentStore:
    """A cache folder of entries addressed by content: arrays and JSON, never pickles.

    Parameters
    ----------
    location : str or path-like
        The folder; created on the first write. It may be shared by processes and machines
        (entries are written atomically and checked when read).
    memory_bytes : int, default=0
        Also keep up to this many bytes of the entries last read or written in this
        process's memory, so that repeated passes over the same patients (the candidates of
        a grid search) skip the disk. Copies and clones of the store share that memory;
        a pickled copy (a joblib worker) starts with none.

    See Also
    --------
    content_key : How keys are made.

    Notes
    -----
    Layout: ``location/<namespace>/<key[:2]>/<key>/`` holding ``arrays.safetensors`` and
    ``entry.json`` (format version, namespace, key, metadata and the SHA-256 of the arrays
    file). The store deletes only folders of that shape, and only entries it has found
    unusable.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from tacelearn.utils import ContentStore, content_key
    >>> store = ContentStore(tempfile.mkdtemp())
    >>> key = content_key("example", 1)
    >>> store.load("demo", key) is None
    True
    >>> store.save("demo", key, arrays={"x": np.arange(3.0)}, meta={"note": "three"})
    >>> entry = store.load("demo", key)
    >>> entry.arrays["x"], entry.meta
    (array([0., 1., 2.]), {'note': 'three'})
    """

    def __init__(self, location, *, memory_bytes=0):
        self.location = Path(location)
        self.memory_bytes = int(memory_bytes)
        self._memory = _MemoryLayer(self.memory_bytes) if self.memory_bytes > 0 else None

    # Clones share the in-memory layer; pickles (worker processes) carry none.
    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):
        return {"location": self.location, "memory_bytes": self.memory_bytes}

    def __setstate__(self, state):
        self.__init__(state["location"], memory_bytes=state["memory_bytes"])

    def __eq__(self, other):
        return (isinstance(other, ContentStore) and other.location == self.location
                and other.memory_bytes == self.memory_bytes)

    def __hash__(self):
        return hash((self.location, self.memory_bytes))

    def __repr__(self):
        extra = f", memory_bytes={self.memory_bytes}" if self.memory_bytes else ""
        return f"ContentStore({str(self.location)!r}{extra})"

    def entry_folder(self, namespace, key):
        """The folder of an entry (whether or not it exists).

        Parameters
        ----------
        namespace : str
            What kind of entry (``"patches"``, ``"cnn-weights"``...).
        key : str
            A :func:`content_key`.

        Returns
        -------
        folder : pathlib.Path
            ``location/<namespace>/<key[:2]>/<key>``.

        Raises
        ------
        ValueError
            If ``namespace`` or ``key`` is not a valid name (so that no path can escape
            the store).
        """
        _check_name("namespace", namespace, _NAMESPACE_PATTERN)
        _check_name("key", key, _KEY_PATTERN)
        return self.location / namespace / key[:2] / key

    def clear_memory(self):
        """Drop the in-memory copies (the disk entries stay)."""
        if self._memory is not None:
            self._memory.clear()

    # ------------------------------------------------------------------------- reading
    def contains(self, namespace, key):
        """Whether an entry is in memory or on disk (not checked: :meth:`load` checks).

        Parameters
        ----------
        namespace : str
            What kind of entry (``"patches"``, ``"cnn-weights"``...).
        key : str
            A :func:`content_key`.

        Returns
        -------
        present : bool
            Whether an entry is stored under ``key``.
        """
        if self._memory is not None and self._memory.get((namespace, key)) is not None:
            return True
        return (self.entry_folder(namespace, key) / _ENTRY_FILE).is_file()

    def load(self, namespace, key, *, check=None):
        """The entry under ``key``, or None when it is absent or unusable.

        Parameters
        ----------
        namespace : str
            What kind of entry (``"patches"``, ``"cnn-weights"``...).
        key : str
            A :func:`content_key`.
        check : callable, optional
            ``check(entry)`` raises ``ValueError`` when the content makes no sense for the
            caller (wrong shape, a constant patch...); the entry is then discarded like a
            corrupt one. Floating-point arrays must be finite in any case.

        Returns
        -------
        entry : StoreEntry or None
            The arrays and metadata stored; None when there is no entry or it was
            discarded (with a :class:`CacheWarning`).
        """
        memory_key = (namespace, key)
        if self._memory is not None:
            entry = self._memory.get(memory_key)
            if entry is not None:
                return entry
        folder = self.entry_folder(namespace, key)
        if not (folder / _ENTRY_FILE).is_file():
            return None
        try:
            entry = self._read(folder, namespace, key)
            if check is not None:
                check(entry)
        except (ValueError, OSError, KeyError, TypeError) as error:
            self._discard(folder, error)
            return None
        if self._memory is not None:
            self._memory.put(memory_key, entry)
        return entry

    def _read(self, folder, namespace, key):
        from safetensors import SafetensorError
        from safetensors.numpy import load as load_arrays

        try:
            record = json.loads((folder / _ENTRY_FILE).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{_ENTRY_FILE} is not valid JSON ({error})") from None
        if not isinstance(record, dict) or record.get("format_version") != STORE_FORMAT_VERSION:
            raise ValueError(f"{_ENTRY_FILE} is not an entry of format version "
                             f"{STORE_FORMAT_VERSION}")
        if record.get("namespace") != namespace or record.get("key") != key:
            raise ValueError(f"{_ENTRY_FILE} belongs to another entry")
        meta, expected = record["meta"], record["sha256"]
        if not isinstance(meta, dict) or not isinstance(expected, str):
            raise ValueError(f"{_ENTRY_FILE} is malformed")
        data = (folder / _ARRAYS_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(f"{_ARRAYS_FILE} does not match its SHA-256 (corrupt or "
                             "truncated)")
        try:
            arrays = load_arrays(data)
        except SafetensorError as error:
            raise ValueError(f"{_ARRAYS_FILE} is not readable ({error})") from None
        not_finite = [name for name, array in arrays.items()
                      if array.dtype.kind in "fc" and not np.isfinite(array).all()]
        if not_finite:
            raise ValueError(f"array(s) {not_finite} hold NaN or infinite values")
        return StoreEntry(arrays=arrays, meta=meta)

    def _discard(self, folder, error):
        warnings.warn(f"cache entry {folder} is unusable and is computed again: {error}",
                      CacheWarning, stacklevel=3)
        shutil.rmtree(folder, ignore_errors=True)

    # ------------------------------------------------------------------------- writing
    def save(self, namespace, key, *, arrays, meta=None):
        """Store named arrays and JSON-ready ``meta`` under ``key``, atomically.

        Parameters
        ----------
        namespace, key : str
            As in :meth:`load`.
        arrays : dict of str to numpy.ndarray
            Numeric arrays (no object dtype). Floating-point arrays must be finite: a cache
            never stores a result that could not be used.
        meta : dict, optional
            JSON-ready metadata (numbers, text, lists, dicts).
        """
        from safetensors.numpy import save as save_arrays

        folder = self.entry_folder(namespace, key)
        arrays = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
        not_finite = [name for name, array in arrays.items()
                      if array.dtype.kind in "fc" and not np.isfinite(array).all()]
        if not_finite:
            raise ValueError(f"cannot cache array(s) {not_finite}: they hold NaN or infinite "
                             "values")
        data = save_arrays(arrays)
        record = {"format_version": STORE_FORMAT_VERSION, "namespace": namespace, "key": key,
                  "sha256": hashlib.sha256(data).hexdigest(), "meta": meta or {}}
        text = json.dumps(record, allow_nan=False)
        folder.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_staging(folder.parent)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:16]}.", suffix=".staging",
                                        dir=folder.parent))
        try:
            os.chmod(staging, 0o777 & ~_umask())
            (staging / _ARRAYS_FILE).write_bytes(data)
            (staging / _ENTRY_FILE).write_text(text, encoding="utf-8")
            try:
                os.replace(staging, folder)
            except OSError:
                if not (folder / _ENTRY_FILE).is_file():
                    raise
                # Stored meanwhile by another process: the same content under the same key.
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if self._memory is not None:
            self._memory.put((namespace, key), StoreEntry(arrays=arrays, meta=meta or {}))

    @staticmethod
    def _remove_stale_staging(parent):
        now = time.time()
        for candidate in parent.glob(".*.staging"):
            with contextlib.suppress(OSError):
                if now - candidate.stat().st_mtime > STALE_STAGING_SECONDS:
                    shutil.rmtree(candidate, ignore_errors=True)

    @contextlib.contextmanager
    def lock(self, namespace, key):
        """Hold an exclusive lock on ``key`` across processes (``fcntl.flock``).

        Used so that two workers about to compute the same expensive entry (a CNN training)
        do it once: the second waits, then finds the entry stored. Where the file system
        has no locks (some network file systems), both compute and store the same entry;
        the result is the same.

        Parameters
        ----------
        namespace : str
            What kind of entry (``"patches"``, ``"cnn-weights"``...).
        key : str
            A :func:`content_key`.

        Yields
        ------
        None
            Control returns to the ``with`` block while the lock is held.
        """
        folder = self.entry_folder(namespace, key)
        locks = self.location / namespace / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, same results
            yield
            return
        with open(locks / f"{folder.name}.lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:
                yield
                return
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def as_store(memory):
    """The :class:`ContentStore` of a ``memory`` parameter: None, a folder or a store.

    Parameters
    ----------
    memory : None, str, path-like, ContentStore or joblib.Memory
        A ``joblib.Memory`` stands for its folder (None for ``Memory(None)``); joblib's
        own, pickle-based, cache is never used.

    Returns
    -------
    store : ContentStore or None
        The store of that folder, ``memory`` itself when it is a store, or None when no
        caching is asked for.

    Raises
    ------
    TypeError
        If ``memory`` is none of the above.

    Examples
    --------
    >>> from tacelearn.utils import as_store
    >>> as_store(None) is None
    True
    >>> as_store("cache-folder")
    ContentStore('cache-folder')
    """
    if memory is None or isinstance(memory, ContentStore):
        return memory
    if isinstance(memory, (str, os.PathLike)):
        return ContentStore(memory)
    # A joblib.Memory names a folder; its pickle-based cache itself is not used.
    location = getattr(memory, "location", None)
    if isinstance(location, (str, os.PathLike)):
        return ContentStore(location)
    if location is None and hasattr(memory, "location"):
        return None
    raise TypeError(f"memory must be None, a folder path or a tacelearn.utils.ContentStore, "
                    f"got {type(memory).__name__}")
