"""Warnings raised in joblib workers, carried back to the calling process.

A warning raised in a worker process (loky or Dask) prints on that worker's stderr, where the
caller can neither catch nor record it. Work sent to workers runs through
:func:`call_capturing_warnings`, and the caller passes what came back to
:func:`reraise_warnings`, so that the caller's own filters and ``catch_warnings`` see every
warning once, wherever it was raised.
"""

from __future__ import annotations

import warnings

__all__ = ["call_capturing_warnings", "reraise_warnings"]


def call_capturing_warnings(function, *args, **kwargs):
    """``(function(*args, **kwargs), [(category, message), ...])``, warnings not printed.

    Parameters
    ----------
    function : callable
        The work to run (in a worker process).
    *args
        Positional arguments of ``function``.
    **kwargs
        Keyword arguments of ``function``.

    Returns
    -------
    result : object
        What ``function`` returned.
    warnings : list of tuple
        ``(category, message)`` of each warning raised during the call, in order.

    See Also
    --------
    reraise_warnings : Raise the captured warnings in the calling process.

    Examples
    --------
    >>> import warnings
    >>> from tacelearn.utils import call_capturing_warnings
    >>> def noisy():
    ...     warnings.warn("careful", RuntimeWarning)
    ...     return 1
    >>> call_capturing_warnings(noisy)
    (1, [(<class 'RuntimeWarning'>, 'careful')])
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    return result, [(w.category, str(w.message)) for w in caught]


def reraise_warnings(captured, *, stacklevel=2):
    """Raise again, in this process, each distinct ``(category, message)`` once.

    Parameters
    ----------
    captured : iterable of tuple
        ``(category, message)`` pairs, as returned by :func:`call_capturing_warnings`.
    stacklevel : int, default=2
        As in :func:`warnings.warn`, counted from the function that calls this one: the
        default 2 points at that function's caller.

    See Also
    --------
    call_capturing_warnings : Run a function and collect the warnings it raises.

    Examples
    --------
    >>> import warnings
    >>> from tacelearn.utils import reraise_warnings
    >>> captured = [(RuntimeWarning, "careful"), (RuntimeWarning, "careful")]
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     reraise_warnings(captured)
    >>> [str(w.message) for w in caught]
    ['careful']
    """
    for category, message in dict.fromkeys(captured):
        warnings.warn(message, category, stacklevel=stacklevel + 1)
