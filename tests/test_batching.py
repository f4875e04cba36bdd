import threading

import numpy as np
import pytest
from mlflow import MlflowClient

from nbops import batching, store
from nbops.errors import InvalidInput, StoreError


def test_writer_keeps_order_and_writes_everything_on_close(tracking_uri: str) -> None:
    client = store.client()
    run = client.create_run("0")
    writer = batching.RunWriter(client, run.info.run_id, flush_interval=0.05)
    for step in range(2500):
        writer.add("loss", float(step), step=step)
    writer.add_text("notes/a.txt", "hello")
    writer.close()
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == [float(s) for s in range(2500)]
    assert writer.written == 2500
    assert [a.path for a in client.list_artifacts(run.info.run_id, "notes")] == ["notes/a.txt"]


def test_writes_from_many_threads_are_all_kept(tracking_uri: str) -> None:
    client = store.client()
    run = client.create_run("0")
    writer = batching.RunWriter(client, run.info.run_id, flush_interval=0.01)

    def log(key: str) -> None:
        for step in range(500):
            writer.add(key, 1.0, step=step)

    threads = [threading.Thread(target=log, args=(f"k{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    for i in range(4):
        assert len(client.get_metric_history(run.info.run_id, f"k{i}")) == 500


def test_a_store_that_refuses_points_is_reported_on_close(tracking_uri: str) -> None:
    client = store.client()
    run = client.create_run("0")
    client.set_terminated(run.info.run_id)
    client.delete_run(run.info.run_id)  # MLflow refuses writes to a deleted run
    writer = batching.RunWriter(MlflowClient(tracking_uri), run.info.run_id)
    writer.add("x", 1.0)
    with pytest.raises(StoreError, match="1 metric points and 0 artifacts could not be written"):
        writer.close()


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), (np.float32(0.25), 0.25), (np.array(3), 3.0)])
def test_metric_values(value, expected) -> None:
    assert batching.as_metric_value("k", value) == expected


@pytest.mark.parametrize("value", ["1.0", None, False, np.array([1, 2])])
def test_non_metric_values(value) -> None:
    with pytest.raises(InvalidInput, match="metric 'k' must be a number"):
        batching.as_metric_value("k", value)
