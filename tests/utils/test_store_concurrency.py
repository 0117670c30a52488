"""ContentStore under concurrent processes, as on a cluster's shared cache folder: entries are
never seen half-written or corrupt, racing writers of one key both succeed, and ``lock`` lets
one process at a time in (what the CNN weights cache relies on to train a network once).

The processes are real ones (``spawn``: fresh interpreters, like Dask workers), released
together by a barrier at every round so that they collide on the same keys."""

import multiprocessing
import os
import queue
import sys
import time
import warnings

import numpy as np
import pytest

from tacelearn.utils import ContentStore, content_key

N_PROCESSES = 2
ROUNDS = 30
KEYS_PER_ROUND = 3
#: Large enough that writing an entry takes long enough for the other process to read it.
VALUES_PER_ENTRY = 256 * 1024

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks are POSIX only")


def _expected(round_number, k):
    """The arrays of entry (round, k): any process computes the same ones."""
    values = np.arange(VALUES_PER_ENTRY, dtype=np.float32) * (round_number + 1) + k
    return {"values": values, "label": np.array([round_number, k], dtype=np.int64)}


def _same(entry, round_number, k):
    expected = _expected(round_number, k)
    return (sorted(entry.arrays) == sorted(expected)
            and all(np.array_equal(entry.arrays[name], expected[name]) for name in expected)
            and entry.meta == {"round": round_number, "k": k})


def _save_and_load(location, process, barrier, problems):
    """Every round: load each key (in an order of its own), store it when absent, load again;
    any warning, exception or wrong content goes to ``problems``."""
    store = ContentStore(location)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for round_number in range(ROUNDS):
            barrier.wait(timeout=60)
            order = range(KEYS_PER_ROUND)
            for k in order if process % 2 == 0 else reversed(order):
                key = content_key("concurrency", round_number, k)
                try:
                    entry = store.load("demo", key)
                    if entry is None:
                        store.save("demo", key, arrays=_expected(round_number, k),
                                   meta={"round": round_number, "k": k})
                        entry = store.load("demo", key)
                    if entry is None or not _same(entry, round_number, k):
                        problems.put(f"process {process}, round {round_number}, key {k}: "
                                     f"{'absent' if entry is None else 'wrong content'}")
                except Exception as error:  # reported to the test, whatever it is
                    problems.put(f"process {process}, round {round_number}, key {k}: "
                                 f"{type(error).__name__}: {error}")
    for warning in caught:
        problems.put(f"process {process}: {warning.category.__name__}: {warning.message}")


def _hold_lock(location, process, barrier, spans):
    """Enter the lock of one key repeatedly; report when each stay began and ended."""
    store = ContentStore(location)
    key = content_key("one key")
    barrier.wait(timeout=60)
    for _ in range(15):
        with store.lock("demo", key):
            entered = time.monotonic_ns()
            time.sleep(0.005)
            left = time.monotonic_ns()
        spans.put((process, entered, left))


def _compute_once(location, process, barrier, counter):
    """The CNN weights cache's pattern: under the lock, compute and store only when absent."""
    store = ContentStore(location)
    key = content_key("expensive")
    barrier.wait(timeout=60)
    with store.lock("demo", key):
        if store.load("demo", key) is None:
            with open(counter, "a", encoding="utf-8") as file:
                file.write(f"{process}\n")
            time.sleep(0.3)  # long enough that the other process arrives meanwhile
            store.save("demo", key, arrays={"x": np.ones(3)})


def _run(target, location, *queues_or_paths):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(N_PROCESSES)
    processes = [context.Process(target=target, args=(str(location), i, barrier,
                                                      *queues_or_paths))
                 for i in range(N_PROCESSES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    exit_codes = [process.exitcode for process in processes]
    assert exit_codes == [0] * N_PROCESSES, f"worker processes ended with {exit_codes}"


def _drain(results):
    items = []
    while True:
        try:
            items.append(results.get(timeout=0.5))
        except queue.Empty:
            return items


def test_racing_writers_and_readers_never_see_a_broken_entry(tmp_path):
    problems = multiprocessing.get_context("spawn").Queue()
    _run(_save_and_load, tmp_path, problems)
    assert _drain(problems) == []
    entries = sorted(p.parent for p in (tmp_path / "demo").rglob("entry.json"))
    assert len(entries) == ROUNDS * KEYS_PER_ROUND
    for folder in entries:
        assert sorted(p.name for p in folder.iterdir()) == ["arrays.safetensors", "entry.json"]
    # The losers of each race removed their staging folders.
    assert list((tmp_path / "demo").rglob("*.staging")) == []


def test_lock_admits_one_process_at_a_time(tmp_path):
    spans = multiprocessing.get_context("spawn").Queue()
    _run(_hold_lock, tmp_path, spans)
    stays = sorted(_drain(spans), key=lambda span: span[1])
    assert len(stays) == 15 * N_PROCESSES
    assert {process for process, _, _ in stays} == set(range(N_PROCESSES))
    for (_, _, left), (_, entered, _) in zip(stays, stays[1:]):
        assert entered >= left, "two processes held the lock at once"


def test_work_under_the_lock_is_done_once(tmp_path):
    counter = tmp_path / "computations.txt"
    _run(_compute_once, tmp_path / "store", str(counter))
    assert len(counter.read_text(encoding="utf-8").splitlines()) == 1
    assert ContentStore(tmp_path / "store").load("demo", content_key("expensive")) is not None
    assert os.listdir(tmp_path / "store" / "demo" / ".locks")  # the lock file stays, harmless
