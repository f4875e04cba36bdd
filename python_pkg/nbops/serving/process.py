"""Where a server runs: in this process (the CLI), or as a child process (``nbops.serve``, ``%serve``).

``nbops serve`` runs uvicorn here: uvicorn turns SIGTERM into a graceful shutdown (stop accepting,
finish the requests in flight), then the dispatcher's lifespan closes the inference log and ends
the deployment record. A notebook must not block on a server nor die with it, so ``nbops.serve``
starts ``nbops serve`` as a child in a session of its own, waits for ``/ping``, and stops it by
signalling the whole process group (SIGKILL only after a grace period). The servers a kernel
started are remembered here, so ``%serve --list`` and ``--stop`` know them.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NbopsError
from .heap import skip_final_collection

SPEC_ENV = "NBOPS_SERVE_SPEC"
TOKEN_ENV = "NBOPS_SERVE_TOKEN"


def exposure_warning(host: str, token: str | None) -> str | None:
    """The warning line for a server reachable from other machines without a token, else None."""
    if token or _loopback(host):
        return None
    return (
        f"nbops serve: warning: listening on {host} without a token: anyone who can reach this "
        f"machine can call the model; set {TOKEN_ENV} to require 'Authorization: Bearer <token>'."
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInput(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port."
        ) from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def run(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    workers: int = 1,
    canary: dict[str, int] | None = None,
    shadow: str | None = None,
    start: Path | str | None = None,
    version: str | None = None,
) -> None:
    """Serve ``target`` (MODEL@ALIAS) until SIGTERM/SIGINT; blocks. The CLI's ``nbops serve``.

    ``version`` pins it: that version is served for the alias and the alias is not followed.
    """
    import uvicorn

    from .app import Dispatcher
    from .engine import Engine, parse_target

    name, alias = parse_target(target)
    if workers < 1:
        raise InvalidInput("--workers must be at least 1.")
    token = os.environ.get(TOKEN_ENV) or None
    warning = exposure_warning(host, token)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    sock = _bind(host, port)
    url = _url(host, sock.getsockname()[1])
    options: dict[str, Any] = {
        "lifespan": "on",
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers > 1:
        # Each worker process builds its own engine (versions, inference log, deployment record).
        spec = {"target": target, "url": url, "canary": canary, "shadow": shadow, "start": str(start or "")}
        spec["version"] = version
        os.environ[SPEC_ENV] = json.dumps(spec)
        config = uvicorn.Config("nbops.serving.process:worker_app", factory=True, workers=workers, **options)
        print(f"nbops serve: {name}@{alias} at {url} ({workers} workers)", flush=True)
        from uvicorn.supervisors import Multiprocess

        skip_final_collection()
        Multiprocess(config, sockets=[sock]).run()
        _reap_resource_tracker()
        return
    try:
        engine = Engine(
            name, alias, url=url, canary=canary, shadow=shadow, token=token, pinned=version, start=start
        )
        engine.load()
    except BaseException:
        sock.close()
        raise
    print(f"nbops serve: {name}@{alias} version {engine.version} at {url}", flush=True)
    server = uvicorn.Server(uvicorn.Config(Dispatcher(engine), **options))
    # uvicorn re-raises SIGTERM once it has shut down gracefully; a stop asked for is a clean exit (0).
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    skip_final_collection()
    try:
        server.run(sockets=[sock])
    finally:
        engine.close()  # already done by the lifespan unless start-up failed


def _reap_resource_tracker() -> None:
    """Stop and wait for multiprocessing's helper process, so no orphan outlives the server."""
    from multiprocessing import resource_tracker

    tracker = getattr(resource_tracker, "_resource_tracker", None)
    stop = getattr(tracker, "_stop", None)
    if callable(stop):
        with contextlib.suppress(Exception):
            stop()


def worker_app() -> Any:
    """A worker's dispatcher (uvicorn ``--workers``): the engine is rebuilt from the parent's spec."""
    from .app import Dispatcher
    from .engine import Engine, parse_target

    spec = json.loads(os.environ[SPEC_ENV])
    name, alias = parse_target(spec["target"])
    engine = Engine(
        name,
        alias,
        url=spec["url"],
        canary=spec["canary"],
        shadow=spec["shadow"],
        pinned=spec.get("version"),
        start=spec["start"] or None,
    )
    engine.load()
    skip_final_collection()
    return Dispatcher(engine)


# --- child servers started from Python or a notebook ---------------------------------------------

_RUNNING: dict[str, ServerProcess] = {}
_LOCK = threading.Lock()


class ServerProcess:
    """A handle on an ``nbops serve`` child: ``url``, ``status()``, ``stop()``."""

    def __init__(self, name: str, target: str, url: str, process: subprocess.Popen, log: Path) -> None:
        self.name, self.target, self.url, self.process, self.log = name, target, url, process, log

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def status(self) -> dict[str, Any]:
        """The server's own account (``/nbops/status``): versions, split, failures, inference log."""
        if not self.running():
            return {
                "model": self.target,
                "url": self.url,
                "running": False,
                "exit_code": self.process.returncode,
            }
        request = urllib.request.Request(f"{self.url}/nbops/status", headers=_auth_headers())
        with urllib.request.urlopen(request, timeout=10) as answer:
            status = json.loads(answer.read())
        status["running"] = True
        return status

    def stop(self, grace: float = 30.0) -> int:
        """SIGTERM the process group (requests in flight finish), SIGKILL after ``grace`` seconds."""
        with _LOCK:
            _RUNNING.pop(self.name, None)
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        _signal_group(self.process.pid, signal.SIGKILL)  # anything the server left in its group
        return self.process.returncode

    def __repr__(self) -> str:
        state = "running" if self.running() else f"stopped ({self.process.returncode})"
        return f"<nbops server {self.name!r}: {self.target} at {self.url}, pid {self.pid}, {state}>"


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _auth_headers() -> dict[str, str]:
    token = os.environ.get(TOKEN_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_child(
    target: str,
    *,
    name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    canary: dict[str, int] | None = None,
    shadow: str | None = None,
    start: Path | str | None = None,
    timeout: float = 120.0,
) -> ServerProcess:
    """Start ``nbops serve TARGET`` as a child in its own session; return once it answers /ping."""
    from .engine import parse_target
    from .routing import check_split

    parse_target(target)
    split = check_split(canary or {})
    name = name or target
    with _LOCK:
        if name in _RUNNING and _RUNNING[name].running():
            raise InvalidInput(
                f"a server named {name!r} is already running; stop it first or choose another name."
            )
    port = port or _free_port(host)
    argv = [sys.executable, "-c", "from nbops.cli import main; main()", "serve", target, "--host", host]
    argv += ["--port", str(port), "--workers", str(workers)]
    for alias, percent in split.items():
        argv += ["--canary", f"{alias}={percent}"]
    if shadow:
        argv += ["--shadow", shadow]
    handle, log_name = tempfile.mkstemp(prefix="nbops-serve-", suffix=".log")
    log = Path(log_name)
    with os.fdopen(handle, "w") as out:
        process = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(start) if start else None,
            start_new_session=True,
        )
    server = ServerProcess(name, target, _url(host, port), process, log)
    deadline = time.monotonic() + timeout
    while not _answers(f"{server.url}/ping"):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop(grace=5)
            raise NbopsError(f"the server for {target} did not start: {_last_line(log)} (log: {log})")
        time.sleep(0.1)
    with _LOCK:
        _RUNNING[name] = server
    return server


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _last_line(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("nbops: ")]
    return (errors or lines or ["no output"])[-1]


def running() -> list[ServerProcess]:
    """The servers this process started that are still running."""
    with _LOCK:
        return [server for server in _RUNNING.values() if server.running()]


def stop(name: str) -> int:
    with _LOCK:
        server = _RUNNING.get(name)
    if server is None:
        known = ", ".join(sorted(_RUNNING)) or "none"
        raise InvalidInput(f"no server named {name!r} was started here (running: {known}).")
    return server.stop()


@atexit.register
def _stop_all() -> None:
    for server in running():
        server.stop(grace=10)
