"""``nbops serve`` against plain ``mlflow models serve``, side by side on the same sklearn model.

A private SQLite project gets an iris classifier as ``iris@champion`` (version 1) and a second
version as ``iris@challenger``. Measured, with the servers run one after another on 127.0.0.1
(each alone on the machine while it is measured), in two alternating rounds (the better round
of each is reported, so a passing disturbance does not decide the ratio):

* bounded loopback load — ``--clients`` threads × ``--requests`` each, one kept-alive connection
  per thread, a one-row ``dataframe_split`` per request: p50, p95 and throughput of plain
  ``mlflow models serve -m models:/iris@champion --env-manager local`` (baseline) and of
  ``nbops serve iris@champion`` with inference logging on; the ratios
  (targets: p50 overhead <= 10 %, throughput >= 0.9x);
* alias following under load: the time from ``promote`` (and then ``rollback``) to the first
  answer from the new version (target <= 5 s with the default ``poll_seconds = 1``), and the
  failed requests meanwhile (target 0);
* shadow mode: p50 of ``nbops serve iris@champion --shadow challenger`` against the champion alone
  (target <= +10 %).

    python benchmarks/serving.py [--clients 8] [--requests 2000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

START_TIMEOUT = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ping(port: int, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered /ping on port {port}")


def make_project(root: Path) -> tuple[str, Any]:
    """A project whose store holds iris versions 1 (champion) and 2 (challenger)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from nbops import registry, store

    (root / "pyproject.toml").write_text('[project]\nname = "serving-benchmark"\n')
    uri = f"sqlite:///{root / '.nbops' / 'mlflow.db'}"
    store.prepare(uri)
    X, y = load_iris(return_X_y=True, as_frame=True)
    registry.register(
        LogisticRegression(max_iter=500).fit(X, y), "iris", data=X, alias="champion", start=root
    )
    registry.register(
        LogisticRegression(C=0.1, max_iter=500).fit(X, y), "iris", data=X, alias="challenger", start=root
    )
    body = json.dumps({"dataframe_split": X.head(1).to_dict(orient="split")})
    return uri, body


class Load:
    """``clients`` threads, each posting ``requests`` bodies on one kept-alive connection."""

    def __init__(self, port: int, body: str, clients: int, requests: int) -> None:
        self.port, self.body, self.clients, self.requests = port, body, clients, requests
        self.latencies: list[float] = []
        self.failed = 0
        self.versions: list[tuple[float, str]] = []  # (time, X-Nbops-Model-Version) when watched
        self.watch = False
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def _client(self, number: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        mine: list[float] = []
        failed = 0
        for i in range(self.requests):
            if self.stop.is_set():
                break
            began = time.perf_counter()
            try:
                conn.request("POST", "/invocations", self.body, {**headers, "X-Request-Id": f"{number}-{i}"})
                answer = conn.getresponse()
                answer.read()
                ok = answer.status == 200
            except OSError:
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            ended = time.perf_counter()
            mine.append(ended - began)
            failed += not ok
            if self.watch and ok:
                with self._lock:
                    self.versions.append((ended, answer.getheader("X-Nbops-Model-Version", "")))
        conn.close()
        with self._lock:
            self.latencies += mine
            self.failed += failed

    def run(self) -> dict[str, float]:
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        ordered = sorted(self.latencies)
        return {
            "p50_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000,
            "rps": len(ordered) / elapsed,
            "failed": self.failed,
            "requests": len(ordered),
        }


def mlflow_serve(root: Path, uri: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    venv_bin = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}"}
    process = subprocess.Popen(
        [f"{venv_bin}/mlflow", "models", "serve", "-m", "models:/iris@champion", "--env-manager", "local",
         "-p", str(port), "--host", "127.0.0.1"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_ping(port, process)
    return process, port


def stop_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def measure(kind: str, root: Path, uri: str, body: str, clients: int, requests: int) -> dict[str, float]:
    import nbops

    if kind == "mlflow":
        process, port = mlflow_serve(root, uri)
        try:
            Load(port, body, 2, 50).run()  # warm-up
            return Load(port, body, clients, requests).run()
        finally:
            stop_group(process)
    server = nbops.serve("iris@champion", shadow="challenger" if kind == "shadow" else None, start=root)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        Load(port, body, 2, 50).run()
        result = Load(port, body, clients, requests).run()
        if kind == "shadow":
            copies = server.status()["shadow_copies"]
            result["shadowed"] = copies["sent"] / max(copies["sent"] + copies["dropped"], 1)
        return result
    finally:
        server.stop()


def alias_following(root: Path, body: str, clients: int) -> list[dict[str, float]]:
    """Promote and roll back under load: seconds to the first answer from the new version."""
    import nbops
    from nbops import registry

    server = nbops.serve("iris@champion", start=root)
    port = int(server.url.rsplit(":", 1)[1])
    load = Load(port, body, clients, 10**9)
    load.watch = True
    runner = threading.Thread(target=load.run)
    runner.start()
    found = []
    try:
        time.sleep(2)
        for change, target in (("promote", "2"), ("rollback", "1")):
            began = time.perf_counter()
            if change == "promote":
                registry.promote("iris", 2, "champion", "benchmark", start=root)
            else:
                registry.rollback("iris", "champion", "benchmark", start=root)
            while True:
                with load._lock:
                    hit = next((t for t, v in load.versions if t > began and v == target), None)
                if hit is not None or time.perf_counter() - began > 60:
                    break
                time.sleep(0.01)
            found.append({"change": change, "seconds": (hit - began) if hit else float("inf")})
            time.sleep(2)
    finally:
        load.stop.set()
        runner.join()
        server.stop()
    for row in found:
        row["failed"] = load.failed
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbops-serving-bench-") as tmp:
        root = Path(tmp)
        os.chdir(root)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("NBOPS_SERVE_TOKEN", None)
        uri, body = make_project(root)
        results: dict[str, list[dict[str, float]]] = {"mlflow": [], "nbops": [], "shadow": []}
        for round_ in range(args.rounds):
            for kind in results:
                result = measure(kind, root, uri, body, args.clients, args.requests)
                results[kind].append(result)
                print(
                    f"round {round_ + 1} {kind:7s} p50 {result['p50_ms']:6.2f} ms  p95 {result['p95_ms']:6.2f} ms  "
                    f"{result['rps']:7.1f} req/s  failed {result['failed']}",
                    flush=True,
                )
        best = {kind: min(rows, key=lambda r: r["p50_ms"]) for kind, rows in results.items()}
        fastest = {kind: max(r["rps"] for r in rows) for kind, rows in results.items()}
        print(f"\n{args.clients} clients x {args.requests} requests, best of {args.rounds} rounds")
        for kind, label in (
            ("mlflow", "mlflow models serve"),
            ("nbops", "nbops serve (logging)"),
            ("shadow", "nbops serve --shadow"),
        ):
            print(
                f"  {label:24s} p50 {best[kind]['p50_ms']:6.2f} ms  p95 {best[kind]['p95_ms']:6.2f} ms  {fastest[kind]:7.1f} req/s"
            )
        overhead = best["nbops"]["p50_ms"] / best["mlflow"]["p50_ms"] - 1
        print(f"  p50 overhead of nbops serve: {overhead:+.1%} (target <= +10 %)")
        print(f"  throughput ratio: {fastest['nbops'] / fastest['mlflow']:.2f}x (target >= 0.9x)")
        shadow = best["shadow"]["p50_ms"] / best["nbops"]["p50_ms"] - 1
        print(f"  shadow p50 vs champion alone: {shadow:+.1%} (target <= +10 %)")
        shadowed = statistics.mean(r["shadowed"] for r in results["shadow"])
        print(
            f"  share of requests the shadow answered too: {shadowed:.0%} (the rest dropped: one copy at a time, within shadow_share of a core)"
        )
        for row in alias_following(root, body, min(args.clients, 4)):
            print(
                f"  {row['change']}: first answer from the new version after {row['seconds']:.2f} s (target <= 5 s)"
            )
        print(f"  failed requests during promote and rollback: {row['failed']} (target 0)")


if __name__ == "__main__":
    main()
