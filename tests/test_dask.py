"""On a Dask cluster (joblib's Dask backend, entered by ``tacelearn.utils.parallel_backend``)
the parallel steps give the numbers of the local run: patches, a grid search, a bootstrap
validation, a cached CNN grid search; two workers fitting the same CNN train it once; and the
context manager fails clearly, naming the scheduler, when it cannot connect.

One ``LocalCluster`` of two single-threaded worker processes serves the whole module. Each
comparison also checks, from the scheduler's task stream, that the work ran on the workers:
a backend that silently stayed local would otherwise pass."""

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pytest
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from tacelearn.datasets import make_tace_cohort
from tacelearn.estimators import make_cached_grid_search, make_clinical_model, make_dltr_lr
from tacelearn.transformers import TumourPatchExtractor
from tacelearn.utils import parallel_backend, scheduler_address, sequential_in_dask_worker
from tacelearn.validation import bootstrap_validate


@pytest.fixture(scope="module")
def scheduler_file(tmp_path_factory):
    """Where the scheduler writes its scheduler file, as ``dask scheduler --scheduler-file``."""
    return tmp_path_factory.mktemp("dask_scheduler") / "scheduler.json"


@pytest.fixture(scope="module")
def cluster(scheduler_file):
    # No dashboard (it needs bokeh, and a fixed port would clash with a cluster already
    # running); processes like real workers, one thread each like a worker per GPU.
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  scheduler_kwargs={"scheduler_file": str(scheduler_file)}
                                  ) as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def address(cluster):
    return cluster.scheduler_address


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dask_cohort")
    return make_tace_cohort(folder, n_per_center=(20, 8, 8), image_shape=(48, 48, 12),
                            random_state=0)


@pytest.fixture(scope="module")
def outcome(cohort):
    return cohort["objective_response"].astype(int).to_numpy()


@pytest.fixture
def one_torch_thread():
    """Train with one thread per process, as the workers do (dask sets ``OMP_NUM_THREADS=1``
    in them): like with like, and no oversubscription of a shared machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _cluster_tasks(client, work):
    """Run ``work()`` recording the scheduler's task stream; (result, task names)."""
    with distributed.get_task_stream(client=client) as stream:
        result = work()
    return result, [task["key"] for task in stream.data]


# ------------------------------------------------------------------ the same numbers
def test_patches_on_the_cluster_equal_the_local_ones(address, cohort, tmp_path):
    local = TumourPatchExtractor(size=32, n_jobs=1).fit_transform(cohort)
    with parallel_backend(address) as client:
        on_cluster, tasks = _cluster_tasks(
            client, lambda: TumourPatchExtractor(size=32, memory=tmp_path).fit_transform(cohort))
    assert any("_extract_or_report" in task for task in tasks)
    np.testing.assert_array_equal(on_cluster, local)
    # The cache the workers' results went to holds the local patches too.
    cached = TumourPatchExtractor(size=32, memory=tmp_path).fit_transform(cohort)
    np.testing.assert_array_equal(cached, local)


def test_grid_search_on_the_cluster_equals_the_local_one(address, cohort, outcome):
    def search():
        grid = {"classifier__C": [1e-3, 1e-1, 10.0], "screen__alpha": [0.05, 1.0]}
        return GridSearchCV(make_clinical_model(), grid, cv=StratifiedKFold(3),
                            scoring="roc_auc").fit(cohort, outcome)

    local = search()
    with parallel_backend(address) as client:
        on_cluster, tasks = _cluster_tasks(client, search)
    assert tasks
    columns = [f"split{i}_test_score" for i in range(3)] + ["mean_test_score",
                                                           "rank_test_score"]
    pd.testing.assert_frame_equal(pd.DataFrame(on_cluster.cv_results_)[columns],
                                  pd.DataFrame(local.cv_results_)[columns])
    # The grid is not flat: the comparison sees every candidate's own scores.
    assert pd.DataFrame(local.cv_results_)["mean_test_score"].nunique() > 1
    assert on_cluster.best_params_ == local.best_params_


def test_bootstrap_validation_on_the_cluster_equals_the_local_one(address, cohort, outcome):
    def validate(n_jobs):
        return bootstrap_validate(make_clinical_model(), cohort, outcome, n_bootstraps=6,
                                  random_state=0, n_jobs=n_jobs)

    local = validate(n_jobs=1)
    with parallel_backend(address) as client:
        # The Dask backend runs on every worker whatever n_jobs says.
        on_cluster, tasks = _cluster_tasks(client, lambda: validate(n_jobs=1))
    # Each resample runs as call_capturing_warnings(_evaluate_resample, ...), so that the
    # workers' warnings come back to this process.
    assert any("call_capturing_warnings" in task for task in tasks), tasks
    pd.testing.assert_frame_equal(on_cluster.table, local.table)
    pd.testing.assert_frame_equal(on_cluster.estimates_632plus, local.estimates_632plus)
    pd.testing.assert_frame_equal(on_cluster.resamples, local.resamples)
    assert on_cluster.failures == local.failures


def test_cached_cnn_grid_search_on_the_cluster_equals_the_local_one(address, cohort, outcome,
                                                                   tmp_path, one_torch_thread):
    def search(memory):
        model = make_dltr_lr(cv=None, screen=False, backbone="test_resnet", patch_size=32,
                             random_state=0, encoder_params={"max_epochs": 1, "batch_size": 8})
        return make_cached_grid_search(model, {"classifier__C": [0.1, 10.0]}, memory=memory,
                                       cv=StratifiedKFold(2), scoring="roc_auc"
                                       ).fit(cohort, outcome)

    local = search(tmp_path / "local")
    with parallel_backend(address) as client:
        on_cluster, tasks = _cluster_tasks(client, lambda: search(tmp_path / "cluster"))
    assert tasks
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(on_cluster.cv_results_[key], local.cv_results_[key])
    # One CNN per fold plus the refit, in the one cache folder the workers and this process
    # share, whichever trained it.
    for run in ("local", "cluster"):
        assert len(list((tmp_path / run / "cnn-weights").rglob("entry.json"))) == 3


def test_leave_one_center_out_on_the_cluster_equals_the_local_one(address, cohort, outcome):
    from tacelearn.validation import leave_one_center_out

    def validate():
        return leave_one_center_out(make_clinical_model(screen=False), cohort, outcome,
                                    n_jobs=1)

    local = validate()
    with parallel_backend(address) as client:
        on_cluster, tasks = _cluster_tasks(client, validate)
    assert tasks
    pd.testing.assert_frame_equal(on_cluster.table, local.table)


def test_backbone_comparison_on_the_cluster_equals_the_local_one(address, cohort, outcome,
                                                                 one_torch_thread):
    from tacelearn.estimators import compare_backbones

    def compare():
        return compare_backbones(cohort, outcome, backbones=("test_resnet", "resnet18"), cv=2,
                                 patch_size=32, random_state=0, return_scores=True,
                                 encoder_params={"max_epochs": 1, "batch_size": 8})

    local_table, local_scores = compare()
    with parallel_backend(address) as client:
        (table, scores), tasks = _cluster_tasks(client, compare)
    # Two backbones x two folds: four trainings, in one pool, on the workers.
    assert sum("_fit_fold" in task for task in tasks) >= 1
    pd.testing.assert_frame_equal(scores, local_scores)
    columns = ["auc", "auc_ci_low", "auc_ci_high", "fold_auc_mean", "pvalue_vs_best"]
    pd.testing.assert_frame_equal(table[columns], local_table[columns])


def test_study_command_with_a_scheduler_runs_on_the_cluster(address, tmp_path, capsys):
    from tacelearn.study._cli import main

    # Splits large enough for every analysis of the report (DeLong needs 2 of each class).
    make_tace_cohort(tmp_path / "cohort", n_per_center=(50, 20, 20), image_shape=(32, 32, 8),
                     random_state=0)
    manifest = tmp_path / "cohort" / "cohort.csv"
    arguments = ["study", "--cohort", str(manifest), "--models", "clinical", "--n-bootstraps",
                 "4", "--n-resamples", "20", "--gradcam-patients", "0", "--quiet"]
    assert main([*arguments, "--out", str(tmp_path / "local")]) == 0
    with distributed.Client(address, set_as_default=False) as client, \
            distributed.get_task_stream(client=client) as stream:
        assert main([*arguments, "--out", str(tmp_path / "cluster"), "--scheduler",
                     address]) == 0
    capsys.readouterr()
    # The bootstrap's refits ran on the workers, and the report says what the local one says.
    assert any("call_capturing_warnings" in task["key"] for task in stream.data)
    for table in ("table2_performance", "validation_optimism"):
        local = pd.read_csv(tmp_path / "local" / "tables" / f"{table}.csv")
        cluster = pd.read_csv(tmp_path / "cluster" / "tables" / f"{table}.csv")
        pd.testing.assert_frame_equal(cluster, local)


# ------------------------------------------------------------------ nested joblib calls
def _sum_of_nested_tasks(keep_in_task):
    """On a worker: a joblib call inside the task, kept in it or not."""
    context = sequential_in_dask_worker() if keep_in_task else contextlib.nullcontext()
    with context:
        return sum(Parallel()(delayed(abs)(-i) for i in range(6)))


@pytest.mark.parametrize("keep_in_task", [False, True])
def test_sequential_in_dask_worker_keeps_nested_calls_in_the_task(address, keep_in_task):
    with parallel_backend(address) as client:
        totals, tasks = _cluster_tasks(
            client, lambda: Parallel()(delayed(_sum_of_nested_tasks)(keep_in_task)
                                       for _ in range(2)))
    assert totals == [15, 15]
    assert sum("_sum_of_nested_tasks" in task for task in tasks) >= 1
    # Without it, joblib's Dask backend sends the inner call back to the cluster.
    assert any("batch_of_abs" in task for task in tasks) is not keep_in_task


def test_sequential_in_dask_worker_does_nothing_outside_a_worker():
    before = get_active_backend()
    with sequential_in_dask_worker():
        backend, n_jobs = get_active_backend()
    assert (type(backend), n_jobs) == (type(before[0]), before[1])


# ------------------------------------------------------------------ one training per CNN
def _fit_counting_trainings(memory, counter, rendezvous, name):
    """On a worker: wait for the other worker, then fit the same cached CNN at the same time,
    appending a line to ``counter`` for every training that really runs."""
    from tacelearn.transformers import CNNEncoder
    from tacelearn.transformers._encoder_net import EncoderNet

    original_fit = EncoderNet.fit

    def counted_fit(self, *args, **kwargs):
        with open(counter, "a", encoding="utf-8") as file:
            file.write(f"{name}\n")
        return original_fit(self, *args, **kwargs)

    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 24)
    X = rng.normal(size=(48, 2, 32, 32)).astype(np.float32)
    X[y == 1, :, 12:20, 12:20] += 2.0
    EncoderNet.fit = counted_fit
    try:
        Path(rendezvous, name).touch()
        deadline = time.monotonic() + 60
        while len(os.listdir(rendezvous)) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        encoder = CNNEncoder(backbone="test_resnet", max_epochs=2, batch_size=8, random_state=0,
                             memory=memory)
        return encoder.fit(X, y).predict_proba(X)
    finally:
        EncoderNet.fit = original_fit


def test_two_workers_fitting_the_same_cnn_train_it_once(address, tmp_path):
    counter, rendezvous = tmp_path / "trainings.txt", tmp_path / "arrived"
    rendezvous.mkdir()
    with distributed.Client(address, set_as_default=False) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        futures = [client.submit(_fit_counting_trainings, str(tmp_path / "cache"), str(counter),
                                 str(rendezvous), f"worker{i}", workers=[worker], pure=False)
                   for i, worker in enumerate(workers)]
        first, second = client.gather(futures)
    assert len(counter.read_text(encoding="utf-8").splitlines()) == 1
    # The worker that waited loaded the weights the other one trained.
    np.testing.assert_array_equal(first, second)


# ------------------------------------------------------------------ the context manager
def test_scheduler_file_written_by_dask_connects_and_the_client_closes(address, scheduler_file):
    for scheduler in (scheduler_file, str(scheduler_file), address):
        with parallel_backend(scheduler) as client:
            backend, _ = get_active_backend()
            assert type(backend).__name__ == "DaskDistributedBackend"
            assert backend.client is client
            assert client.scheduler.address == address
            assert len(client.scheduler_info()["workers"]) == 2
        assert client.status == "closed"
        backend, _ = get_active_backend()
        assert type(backend).__name__ != "DaskDistributedBackend"


def test_without_a_scheduler_only_n_jobs_is_set():
    with parallel_backend() as client:
        backend, n_jobs = get_active_backend()
    assert client is None
    assert n_jobs is None
    with parallel_backend(n_jobs=-1):
        backend, n_jobs = get_active_backend()
    assert (type(backend).__name__, n_jobs) == ("LokyBackend", -1)


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_scheduler_is_named_at_once():
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.monotonic()
    with (pytest.raises(ConnectionError, match=f"Dask scheduler at {address} within 1 s"),
          parallel_backend(address, timeout=1)):
        pass
    assert time.monotonic() - start < 10


def test_unreachable_scheduler_of_a_scheduler_file_names_both(tmp_path):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"address": address}))
    with (pytest.raises(ConnectionError, match=f"{address} \\(from the scheduler file {path}\\)"),
          parallel_backend(path, timeout=0.5)):
        pass


@pytest.fixture
def not_a_scheduler():
    """The address of a TCP server that answers like a web server, not a Dask scheduler."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            with connection:
                connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nnot a scheduler")

    threading.Thread(target=answer, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_a_server_that_is_not_a_scheduler_is_named(not_a_scheduler):
    # The half-started client is closed at once: no unraisable error reaches pytest later.
    with (pytest.raises(ConnectionError, match=f"Dask scheduler at {not_a_scheduler} within"),
          parallel_backend(not_a_scheduler, timeout=5)):
        pass


@pytest.mark.parametrize(("address", "message"), [
    ("tcp://127.0.0.1:port", "invalid literal"),
    ("tcp://127.0.0.1", "missing port"),
    ("gopher://127.0.0.1:8786", "unknown address scheme 'gopher'"),
])
def test_malformed_addresses_are_refused_before_connecting(address, message):
    with (pytest.raises(ValueError, match=f"invalid Dask scheduler address '{address}'.*{message}"),
          parallel_backend(address)):
        pytest.fail("the block must not run")


@pytest.mark.parametrize(("content", "error", "message"), [
    (None, FileNotFoundError, "no Dask scheduler file at"),
    ("not json", ValueError, "is not valid JSON"),
    ('{"id": "Scheduler-1"}', ValueError, "names no scheduler address"),
    ('["tcp://127.0.0.1:8786"]', ValueError, "names no scheduler address"),
])
def test_bad_scheduler_files_are_named_before_connecting(tmp_path, content, error, message):
    path = tmp_path / "scheduler.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=message) as raised, parallel_backend(str(path)):
        pytest.fail("the block must not run")
    assert str(path) in str(raised.value)


@pytest.mark.parametrize(("text", "address"), [
    ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    (" tls://node-3.cluster:8786 ", "tls://node-3.cluster:8786"),
    ("node-3:8786", "node-3:8786"),
    ("[::1]:8786", "[::1]:8786"),
])
def test_addresses_are_taken_as_given(text, address):
    assert scheduler_address(text) == address


@pytest.mark.parametrize(("arguments", "error", "message"), [
    ({"scheduler": 8786}, TypeError, "got int"),
    ({"scheduler": "  "}, ValueError, "is empty"),
    ({"scheduler": "tcp://127.0.0.1:8786", "timeout": 0}, ValueError, "timeout"),
    ({"scheduler": "tcp://127.0.0.1:8786", "timeout": float("nan")}, ValueError, "timeout"),
    ({"n_jobs": 0}, ValueError, "n_jobs"),
    ({"n_jobs": 1.5}, ValueError, "n_jobs"),
])
def test_bad_arguments_are_refused_before_connecting(arguments, error, message):
    with pytest.raises(error, match=message), parallel_backend(**arguments):
        pytest.fail("the block must not run")
