"""Notifications reach real receivers on 127.0.0.1: an HTTP server (webhook, Slack) that can fail,
hang and check signatures, and an ``aiosmtpd`` SMTP server with STARTTLS (a certificate made here)
and a login. Delivery runs in its own process, so these tests wait for its records, never for time.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import nbops
from nbops import audit, gates, monitor, notify, registry
from nbops.cli import ExitCode, main
from nbops.errors import ConfigError

RULE = """
[tool.nbops.alerts.drifting]
metric = "drift.share"
op = ">="
threshold = 0.75
severity = "critical"
"""


# --- real receivers -------------------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs from a script (``"500"``, ``"200"``, ``"hang"``;
    the last entry repeats) and keeping each request, with whether its HMAC signature verified."""

    def __init__(self, script: list[str], key: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()  # a hanging request answers 200 once this is set
        self.hanging = threading.Event()  # set when a request is being held
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = (
                    "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest() if key else None
                )
                answer = script[min(len(outer.requests), len(script) - 1)]
                outer.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "json": json.loads(body),
                        "signed": expected is not None
                        and hmac.compare_digest(self.headers.get("X-Nbops-Signature", ""), expected),
                    }
                )
                if answer == "hang":
                    outer.hanging.set()
                    outer.release.wait()
                    answer = "200"
                self.send_response(int(answer))
                self.end_headers()
                self.wfile.write(b"ok" if answer == "200" else b"down for maintenance")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # a client that gave up on a held request
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(script: list[str], key: str | None = None) -> Receiver:
        made.append(Receiver(script, key))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made here: the client trusts exactly this one."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def smtp_server(tmp_path: Path):
    """``aiosmtpd`` on 127.0.0.1 requiring STARTTLS before a login as nbops / s3cret."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 Message accepted"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"nbops", b"s3cret")
        return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself

    port = free_port()
    controller = Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield {"port": port, "cafile": cert, "received": received}
    controller.stop()


# --- helpers ----------------------------------------------------------------------------------------


def configure(project: Path, text: str) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(text)


def as_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender process inherits the environment: without PYTEST_CURRENT_TEST (MLflow's slow self-checks)."""
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)


def eventually(what: str, check: Callable[[], Any], limit: float = 120) -> Any:
    """Poll ``check`` until it returns something truthy (the sender runs in its own process)."""
    deadline = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def batch(n: int, seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x1": rng.normal(shift, 1, n), "x2": rng.normal(shift, 1, n)})


def register(name: str = "loans", alias: str | None = "champion") -> Any:
    from sklearn.linear_model import LogisticRegression

    X = batch(1000, 0, 0.0)
    model = LogisticRegression().fit(X, (X["x1"] + X["x2"] > 0).astype(int))
    with nbops.track(f"train-{name}"):
        registry.register(model, name, data=X, alias=alias)
    return model


def alert_outcomes() -> dict[str, dict[str, dict[str, str]]]:
    found = monitor.alerts(model="loans")
    return notify.outcomes(found[0]) if found else {}


def notify_events() -> list[audit.Event]:
    return [e for e in audit.events(model="loans") if e.action == "notify"]


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


# --- alerts -----------------------------------------------------------------------------------------


def test_an_alert_sends_one_signed_message_per_opening_and_resolution_retrying_a_500(
    project: Path, receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch)
    receiver = receivers(["500", "200"], key="k3y")  # the first attempt is refused, the rest accepted
    monkeypatch.setenv("ONCALL_URL", receiver.url)
    monkeypatch.setenv("ONCALL_KEY", "k3y")
    configure(
        project,
        RULE + 'notify = ["oncall"]\n\n'
        '[tool.nbops.notify.oncall]\ntype = "webhook"\nurl_env = "ONCALL_URL"\nsecret_env = "ONCALL_KEY"\n'
        "backoff = 0.05\n",
    )
    model = register()
    for number, shift in enumerate([2.5, 2.5], start=1):  # the rule fires on both batches: one episode
        X = batch(400, number, shift)
        monitor.log_batch("loans", X, model.predict(X))
    eventually(
        "the opening delivered",
        lambda: alert_outcomes().get("opened", {}).get("oncall", {}).get("state") == "delivered",
    )
    X = batch(400, 9, 0.0)
    assert [a["state"] for a in monitor.log_batch("loans", X, model.predict(X)).alerts] == ["resolved"]
    eventually("the resolution delivered", lambda: len(notify_events()) == 3)

    kinds = [r["json"]["kind"] for r in receiver.requests]
    assert kinds == ["alert-opened", "alert-opened", "alert-resolved"]  # one retry; nothing for batch 2
    assert all(r["signed"] for r in receiver.requests)
    first, retry, resolved = (r["json"] for r in receiver.requests)
    assert first["id"] == retry["id"] != resolved["id"]  # a retry is the same message
    assert (first["model"], first["version"], first["alias"]) == ("loans", "1", "champion")
    assert first["facts"]["Threshold"] == "drift.share >= 0.75"
    assert float(first["facts"]["Value when opened"]) >= 0.75
    assert first["summary"].startswith("Alert: loans v1 (champion): drift.share >= 0.75 over the last batch")
    assert first["run_id"] == monitor.alerts(model="loans")[0]["id"]

    outcomes = alert_outcomes()
    assert (
        outcomes["opened"]["oncall"]["state"] == "delivered"
        and outcomes["opened"]["oncall"]["attempts"] == "2"
    )
    assert outcomes["opened"]["oncall"]["detail"] == "HTTP 200 ok"
    assert outcomes["resolved"]["oncall"]["state"] == "delivered"
    audited = [(e.details["event"], e.details["attempt"], e.details["outcome"]) for e in notify_events()]
    assert audited == [
        ("alert-opened", "1", "retrying"),
        ("alert-opened", "2", "delivered"),
        ("alert-resolved", "1", "delivered"),
    ]
    assert notify_events()[0].reason == "oncall: retrying (attempt 1): HTTP 500 down for maintenance"


# Delivery's store records are checked on both backends above; this one is about not waiting.
@pytest.mark.sqlite_only(reason="what is proven here is the caller not waiting; the store adds nothing")
def test_log_batch_returns_while_the_receiver_hangs_and_an_unknown_channel_is_recorded_not_raised(
    project: Path, receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch)
    receiver = receivers(["hang"])  # answers only once the test releases it
    monkeypatch.setenv("SLOW_URL", receiver.url)
    configure(
        project,
        RULE
        + 'notify = ["slow", "ghost"]\n\n[tool.nbops.notify.slow]\ntype = "webhook"\nurl_env = "SLOW_URL"\n'
        "timeout = 300\nretries = 0\n",
    )
    model = register()
    X = batch(400, 1, 2.5)
    opened = monitor.log_batch("loans", X, model.predict(X)).alerts  # returns: the receiver has not answered
    assert [a["state"] for a in opened] == ["open"]
    assert receiver.hanging.wait(120)  # the message is out, and held by the receiver
    ghost = eventually(
        "the unknown channel recorded", lambda: alert_outcomes().get("opened", {}).get("ghost")
    )
    assert ghost["state"] == "failed"
    assert ghost["detail"] == "channel 'ghost' is not defined under [tool.nbops.notify]"
    assert "slow" not in alert_outcomes()["opened"]  # still in flight
    receiver.release.set()
    eventually(
        "the held message delivered",
        lambda: alert_outcomes()["opened"].get("slow", {}).get("state") == "delivered",
    )
    assert len(receiver.requests) == 1


def test_one_attempt_times_out_on_a_hanging_receiver_and_a_4xx_is_not_retried(
    receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    hanging, refusing = receivers(["hang"]), receivers(["404"])
    monkeypatch.setenv("HANG_URL", hanging.url)
    monkeypatch.setenv("GONE_URL", refusing.url)
    ev = notify.event("test", title="hello")
    answer = notify.attempt(notify.Channel("h", "webhook", url_env="HANG_URL", timeout=0.3), ev)
    assert answer == notify.Attempt(False, True, "no answer within 0.3 s")
    answer = notify.attempt(notify.Channel("g", "webhook", url_env="GONE_URL"), ev)
    assert answer == notify.Attempt(False, False, "HTTP 404 down for maintenance")


# --- registry and gate events -------------------------------------------------------------------------


@pytest.mark.sqlite_only(reason="the audit records are checked on both backends by the alert test")
def test_a_forced_promotion_a_rollback_and_a_failed_gate_reach_slack_once_each(
    project: Path, receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch)
    slack = receivers(["200"])
    monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
    configure(
        project,
        '[tool.nbops.policy]\nchampion = ["performance"]\n\n'
        '[tool.nbops.notify.team]\ntype = "slack"\nurl_env = "SLACK_WEBHOOK_URL"\n\n'
        '[tool.nbops.notify.events]\nforced_promotion = ["team"]\nrollback = ["team"]\ngate_failure = ["team"]\n',
    )
    register(alias=None)
    register(alias=None)
    registry.promote("loans", 1, "champion", "first release", force=True)
    eventually("the forced promotion sent", lambda: len(slack.requests) == 1)
    registry.promote("loans", 2, "champion", "better recall", force=True)
    eventually("the second forced promotion sent", lambda: len(slack.requests) == 2)
    registry.rollback("loans", "champion", "recall fell in production")
    eventually("the rollback sent", lambda: len(slack.requests) == 3)
    gate = project / "no_parameters.ipynb"  # refused before it runs: a gate that did not pass
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), gate)
    assert not gates.run([str(gate)], "models:/loans/2", report=project / "reports").passed
    eventually("the gate failure sent", lambda: len(slack.requests) == 4)

    forced, _, rolled, failed = (r["json"] for r in slack.requests)
    assert forced["text"] == "[nbops] Forced promotion: loans v1 (champion): champion: v- -> v1"
    fields = [f["text"] for block in forced["blocks"] if "fields" in block for f in block["fields"]]
    assert "*Policy overridden*\nperformance (not run)" in fields and "*Reason*\nfirst release" in fields
    assert rolled["text"] == "[nbops] Rolled back: loans v1 (champion): champion: v2 -> v1"
    assert failed["text"].startswith(
        "[nbops] Gates failed: loans v2: 1 of 1 gates did not pass: no_parameters"
    )
    assert eventually("four deliveries audited", lambda: len(notify_events()) == 4)
    assert {e.details["outcome"] for e in notify_events()} == {"delivered"}


@pytest.mark.sqlite_only(reason="the audit records are checked on both backends by the alert test")
def test_canary_verdicts_reach_the_canary_channels_and_a_bad_decision_never_raises(
    project: Path, receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    as_user(monkeypatch)
    hook = receivers(["200"])
    monkeypatch.setenv("ONCALL_URL", hook.url)
    configure(
        project,
        '[tool.nbops.notify.oncall]\ntype = "webhook"\nurl_env = "ONCALL_URL"\n\n'
        '[tool.nbops.notify.events]\ncanary = ["oncall"]\n',
    )
    decision = {
        "model": "loans",
        "version": 3,
        "alias": "champion",
        "champion_version": "2",
        "verdict": "rolled_back",
        "reason": "error rate 4.0% > 1.0% at 25% traffic",
        "step": 2,
    }
    notify.canary_decided(decision)
    notify.canary_decided({**decision, "verdict": "maybe"})  # logged, not raised, nothing sent
    notify.canary_decided(None)  # type: ignore[arg-type]
    eventually("the verdict delivered", lambda: len(notify_events()) == 1)

    (sent,) = [r["json"] for r in hook.requests]
    assert sent["kind"] == "canary-rolled-back"
    assert (sent["model"], sent["version"], sent["alias"]) == ("loans", "3", "champion")
    assert sent["summary"] == (
        "Canary rolled back: loans v3 (champion): canary v3 against champion v2 rolled back: "
        "error rate 4.0% > 1.0% at 25% traffic"
    )
    assert sent["facts"] == {
        "Verdict": "rolled back",
        "Reason": "error rate 4.0% > 1.0% at 25% traffic",
        "Canary": "v3",
        "Champion": "v2",
        "Step": "2",
    }


# --- e-mail and the CLI ------------------------------------------------------------------------------


def project_at(folder: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with this configuration and no store: checking and test messages need none."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text('[project]\nname = "demo"\n' + text)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


def test_nbops_notify_test_sends_mail_over_starttls_with_a_login_and_reports_a_refused_login(
    tmp_path: Path, smtp_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    project_at(
        tmp_path / "p",
        f'[tool.nbops.notify.mail]\ntype = "email"\nhost = "127.0.0.1"\nport = {smtp_server["port"]}\n'
        f'from = "nbops@example.com"\nto = ["a@example.com", "b@example.com"]\nusername = "nbops"\n'
        f'password_env = "SMTP_PASSWORD"\ncafile = "{smtp_server["cafile"]}"\n',
        monkeypatch,
    )
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    done = cli("notify", "test", "mail")
    assert done.exit_code == ExitCode.OK, done.output
    assert done.output == "mail: delivered (SMTP accepted for 2 of 2 recipients)\n"
    [envelope] = smtp_server["received"]
    assert envelope.rcpt_tos == ["a@example.com", "b@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "[nbops] Test: test message from nbops for channel mail"
    assert "\nStore: sqlite:///" in mail.get_content()

    monkeypatch.setenv("SMTP_PASSWORD", "wrong")
    refused = cli("notify", "test", "mail")
    assert refused.exit_code == ExitCode.CHECK_FAILED
    assert refused.output.startswith(
        "nbops: error: mail: not delivered (the SMTP server refused the login: 535"
    )
    assert len(smtp_server["received"]) == 1


def test_nbops_notify_list_shows_channels_their_users_and_what_stops_them(
    tmp_path: Path, receivers: Callable[..., Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = receivers(["200"])
    project_at(
        tmp_path / "p",
        RULE
        + 'notify = ["oncall"]\n\n[tool.nbops.notify.oncall]\ntype = "webhook"\nurl_env = "ONCALL_URL"\n\n'
        '[tool.nbops.notify.team]\ntype = "slack"\nurl_env = "TEAM_URL"\n\n'
        '[tool.nbops.notify.events]\npromotion = ["team", "oncall"]\n',
        monkeypatch,
    )
    monkeypatch.setenv("ONCALL_URL", hook.url)
    monkeypatch.delenv("TEAM_URL", raising=False)
    listed = cli("notify", "list")
    assert listed.exit_code == ExitCode.USAGE
    rows = listed.output.splitlines()
    assert rows[1].split()[:5] == ["oncall", "webhook", "$ONCALL_URL", "rule", "drifting,"]
    assert rows[1].endswith("event promotion  ready")
    assert "environment variable TEAM_URL (url_env in [tool.nbops.notify.team]" in rows[2]
    monkeypatch.setenv("TEAM_URL", "hooks.slack.com/services/T0")  # no scheme
    assert "TEAM_URL does not hold an http(s) URL with a host" in cli("notify", "list").output
    monkeypatch.setenv("TEAM_URL", hook.url)
    assert cli("notify", "list").exit_code == ExitCode.OK
    sent = cli("notify", "test", "oncall")
    assert (sent.exit_code, sent.output) == (ExitCode.OK, "oncall: delivered (HTTP 200 ok)\n")
    assert hook.requests[0]["json"]["kind"] == "test"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.nbops.notify.team]\ntype = "slack"\nurl = "https://hooks.slack.com/services/T0/B0/XyZ"\n',
            'url would keep a secret in pyproject.toml; name an environment variable instead (url_env = "VARIABLE").',
        ),
        (
            '[tool.nbops.notify.team]\ntype = "slack"\nurl_env = "https://hooks.slack.com/services/T0/B0/XyZ"\n',
            'url_env must be the name of an environment variable (e.g. "TEAM_URL"), not a value; '
            "keep secrets out of pyproject.toml.",
        ),
        (
            RULE + 'notify = ["pager"]\n[tool.nbops.notify.team]\ntype = "slack"\nurl_env = "TEAM_URL"\n',
            "notify names channel 'pager', which is not defined (channels: team).",
        ),
        (
            '[tool.nbops.notify.mail]\ntype = "email"\nhost = "smtp.example.com"\nfrom = "x@example.com"\n'
            'to = ["y@example.com"]\npassword = "hunter2"\n',
            'password would keep a secret in pyproject.toml; name an environment variable instead (password_env = "VARIABLE").',
        ),
    ],
    ids=["secret-url", "url-in-url_env", "unknown-channel", "secret-password"],
)
def test_a_broken_channel_table_is_one_line_at_check_time_and_never_echoes_a_secret(
    tmp_path: Path, table: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_at(tmp_path / "p", table, monkeypatch)
    done = cli("notify", "list")
    assert done.exit_code == ExitCode.USAGE
    [line] = done.output.splitlines()
    assert line.startswith("nbops: error: [tool.nbops.") and line.endswith(message)
    assert "XyZ" not in line and "hunter2" not in line
    with pytest.raises(ConfigError):
        notify.listing()
