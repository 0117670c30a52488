"""Run tacelearn's parallel steps on a Dask cluster, or locally, with one context manager.

Every parallel step of tacelearn (patch and radiomics extraction, grid searches, bootstrap
validation, leave-one-centre-out, the backbone comparison) calls :class:`joblib.Parallel`, so
the joblib backend active around it decides where the work runs. This module enters joblib's
Dask backend on a ``dask.distributed`` scheduler named by its address or by its scheduler file,
and keeps the joblib calls made inside a worker's task in that task. dask is imported only when
a scheduler is named.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import socket
import sys
from numbers import Integral, Real
from pathlib import Path

import joblib

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "parallel_backend",
    "scheduler_address",
    "sequential_in_dask_worker",
]

#: Seconds to wait for the scheduler to answer before giving up with an error naming it.
DEFAULT_CONNECT_TIMEOUT = 10.0
# ``tcp://host:8786``, ``tls://...``, ``ucx://...``: any address with a protocol.
_PROTOCOL_ADDRESS = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)
# ``host:8786`` or ``[::1]:8786``, which dask reads as TCP.
_HOST_PORT_ADDRESS = re.compile(r"^(\[[0-9a-f:.]+\]|[\w.-]+):\d{1,5}$", re.IGNORECASE)


def _scheduler_file_address(path):
    """The address a scheduler file (``dask scheduler --scheduler-file``) holds."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no Dask scheduler file at {path} (and {str(path)!r} is not a scheduler address "
            "such as tcp://host:8786); start the scheduler with `dask scheduler "
            "--scheduler-file <path>` on storage this machine sees, or pass its address")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Dask scheduler file {path} is not valid JSON ({error})") from None
    address = record.get("address") if isinstance(record, dict) else None
    if not isinstance(address, str) or not address:
        raise ValueError(f"Dask scheduler file {path} names no scheduler address (it has no "
                         "'address' entry)")
    return address


def scheduler_address(scheduler):
    """The address of a Dask scheduler given by its address or by its scheduler file.

    Text with a protocol (``tcp://``) or of the form ``host:port`` is an address; anything
    else is the path of a scheduler file, read here so that a missing or damaged file is an
    immediate error naming it (dask itself would wait for the file to appear).

    Parameters
    ----------
    scheduler : str or path-like
        An address (``tcp://host:8786``, ``tls://host:8786``, ``host:8786``) or the path of the
        JSON file ``dask scheduler --scheduler-file`` writes (a path-like is always a file).

    Returns
    -------
    address : str
        The address as given, or the one the scheduler file holds.

    Raises
    ------
    FileNotFoundError
        If ``scheduler`` is neither an address nor an existing file.
    ValueError
        If the scheduler file is not JSON or names no address.
    TypeError
        If ``scheduler`` is neither text nor a path.

    See Also
    --------
    parallel_backend : Connects to the scheduler and runs joblib's steps on it.

    Examples
    --------
    >>> from tacelearn.utils import scheduler_address
    >>> scheduler_address("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    if isinstance(scheduler, str):
        text = scheduler.strip()
        if not text:
            raise ValueError("the Dask scheduler is empty: give an address such as "
                             "tcp://host:8786 or a scheduler file")
        if _PROTOCOL_ADDRESS.match(text) or (_HOST_PORT_ADDRESS.match(text)
                                              and not os.path.isfile(text)):
            return text
        return _scheduler_file_address(Path(text))
    if isinstance(scheduler, os.PathLike):
        return _scheduler_file_address(Path(scheduler))
    raise TypeError("scheduler must be an address such as 'tcp://host:8786' or the path of a "
                    f"Dask scheduler file, got {type(scheduler).__name__}")


def _check_timeout(timeout):
    if (isinstance(timeout, bool) or not isinstance(timeout, Real)
            or not 0 < float(timeout) < float("inf")):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def _tcp_problem(address, timeout):
    """Why nothing answers at a TCP ``address`` (None if something does, or not TCP).

    A plain socket tells at once that a port is closed, where a ``Client`` would retry until
    its timeout, and leaves no half-started client behind.
    """
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    scheme, location = parse_address(address)
    get_backend(scheme)  # an unknown protocol is a ValueError here, before any client exists
    if scheme != "tcp":
        return None
    host, port = parse_host_port(location)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__


def _connect(scheduler, timeout):
    """A ``dask.distributed.Client`` of ``scheduler``, or an error naming where it looked."""
    address = scheduler_address(scheduler)
    try:
        from dask.distributed import Client
    except ImportError as error:  # pragma: no cover - dask[distributed] is a dependency
        raise ImportError("running on a Dask scheduler needs dask.distributed: "
                          "pip install 'dask[distributed]'") from error
    given_as_address = isinstance(scheduler, str) and scheduler.strip() == address
    source = "" if given_as_address else f" (from the scheduler file {scheduler})"
    invalid = problem = None
    try:
        problem = _tcp_problem(address, timeout)
        if problem is None:
            # Not the default client: nothing outside the block goes to the cluster by surprise.
            return Client(address, timeout=timeout, set_as_default=False)
    except ValueError as error:  # a malformed address or an unknown protocol
        invalid = str(error)
    except Exception as error:  # whatever a failed handshake raises, it is named below
        problem = f"{type(error).__name__}: {error}"
    # Raised out here, so that no traceback keeps a half-started client alive, and that client
    # collected now, while its event loop runs, rather than at exit, where closing it fails.
    gc.collect()
    if invalid is not None:
        raise ValueError(f"invalid Dask scheduler address {address!r}{source}: {invalid}")
    raise ConnectionError(
        f"cannot connect to the Dask scheduler at {address}{source} within {timeout:g} s "
        f"({problem}); check that `dask scheduler` runs there and that this machine reaches "
        "its port")


@contextlib.contextmanager
def parallel_backend(scheduler=None, *, n_jobs=None, timeout=DEFAULT_CONNECT_TIMEOUT):
    """Run the parallel steps inside the block on a Dask cluster, or locally.

    With a ``scheduler``, connects a ``dask.distributed.Client`` to it and enters
    ``joblib.parallel_config(backend="dask")``, so that every :class:`joblib.Parallel` of
    the block (tacelearn's extractors, :class:`~sklearn.model_selection.GridSearchCV`,
    bootstrap validation, leave-one-centre-out, the backbone comparison) sends its tasks to the
    cluster's workers; the client is closed on leaving the block (the cluster keeps running).
    Without one, the block runs locally as it would anyway, with ``n_jobs`` as the default of
    every ``Parallel`` that is not given its own.

    Parameters
    ----------
    scheduler : str or path-like, optional
        The scheduler's address (``tcp://host:8786``) or the path of the file that
        ``dask scheduler --scheduler-file`` writes (see :func:`scheduler_address`). ``None``
        runs locally.
    n_jobs : int, optional
        Local workers of joblib's default (loky) backend for every joblib call of the block
        not given its own ``n_jobs`` (scikit-learn's included: a ``ColumnTransformer`` with
        ``n_jobs=None`` then sends its steps to worker processes too); ``-1`` means every
        core. ``None`` leaves joblib's default (one worker). Not used with a ``scheduler``:
        the cluster's workers and their threads set how much runs at once, whatever any
        ``n_jobs`` says.
    timeout : float, default=10
        Seconds to wait for the scheduler to answer.

    Yields
    ------
    client : dask.distributed.Client or None
        The connected client (for its dashboard link or worker list), or None locally.

    Raises
    ------
    ConnectionError
        If the scheduler does not answer within ``timeout`` (the message names the address).
    FileNotFoundError, ValueError, TypeError
        If ``scheduler`` is neither an address nor a readable scheduler file, or ``timeout``
        or ``n_jobs`` is not valid; nothing is started then.

    See Also
    --------
    scheduler_address : How ``scheduler`` is read.
    joblib.parallel_config : What the block enters.

    Notes
    -----
    Workers must reach the data by the same paths as this process: absolute image paths (as
    :func:`~tacelearn.datasets.read_cohort` gives them) and cache folders (``memory=``) on
    storage every machine mounts at the same place. The fits and extractions whose results come
    back to this process (a grid search's refit, the apparent fit of a bootstrap validation,
    writes to the patch cache) run here, not on the cluster. docs/scaling.md gives the
    recipes: one worker per GPU, a Slurm cluster, what runs where.

    Examples
    --------
    >>> from joblib.parallel import get_active_backend
    >>> from tacelearn.utils import parallel_backend
    >>> with parallel_backend(n_jobs=2) as client:
    ...     backend, n_jobs = get_active_backend()
    >>> client, type(backend).__name__, n_jobs
    (None, 'LokyBackend', 2)
    >>> with parallel_backend("no-such-scheduler.json"):
    ...     pass
    Traceback (most recent call last):
    ...
    FileNotFoundError: no Dask scheduler file at no-such-scheduler.json ...

    On a cluster (``dask scheduler`` and ``dask worker`` running)::

        with parallel_backend("tcp://10.0.0.5:8786"):
            result = bootstrap_validate(model, cohort, y, n_bootstraps=200)
    """
    timeout = _check_timeout(timeout)
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral)
                               or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")
    if scheduler is None:
        if n_jobs is None:
            yield None
            return
        with joblib.parallel_config(n_jobs=int(n_jobs)):
            yield None
        return
    client = _connect(scheduler, timeout)
    try:
        with joblib.parallel_config(backend="dask", client=client):
            yield client
    finally:
        client.close()


def _in_dask_worker():
    """Whether this code runs as a task of a Dask worker."""
    # A process that never imported distributed runs no Dask task: no import needed to tell.
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


@contextlib.contextmanager
def sequential_in_dask_worker():
    """Inside a Dask worker's task, run the block's joblib calls in the task, one by one.

    joblib's Dask backend sends every :class:`joblib.Parallel` call made inside a task back to
    the cluster, whatever its ``n_jobs``: a refit's ``ColumnTransformer`` (two or three tiny
    steps) becomes tasks of its own, with its data scattered from the worker, and the waiting
    task secedes, so that a worker meant for one GPU may start a second task meanwhile. The
    outer loop (resamples, folds, centres) already fills the cluster, so the steps inside a
    task gain nothing from it. This runs them in the task, sequentially, as joblib's default
    (loky) backend effectively does in its workers. Outside a Dask worker it does nothing, so
    the same code keeps its inner parallelism when it runs locally.

    Yields
    ------
    None

    See Also
    --------
    parallel_backend : Runs the outer loops on a Dask cluster.

    Examples
    --------
    >>> from joblib import Parallel, delayed
    >>> from tacelearn.utils import sequential_in_dask_worker
    >>> def refit(b):
    ...     with sequential_in_dask_worker():   # in a task run by joblib's Dask backend
    ...         return sum(Parallel()(delayed(abs)(-i) for i in range(b)))
    >>> refit(4)
    6
    """
    if not _in_dask_worker():
        yield
        return
    with joblib.parallel_config(backend="sequential"):
        yield
