"""Sending messages: one attempt per channel type, bounded retries, every outcome recorded.

**Why a detached process.** Whoever opened the alert or moved the alias must not wait for a
receiver: ``log_batch`` in a scoring service, ``nbops gate run`` in CI and ``nbops promote`` at a
terminal all return at once. A thread would do that in a kernel, but a CLI exits right after
the command, and a daemon thread dies with it mid-retry (waiting at exit instead would delay the
command by the retries of a channel that is down). So ``spawn`` starts ``python -m
nbops.notify.delivery`` in a new session, hands it the event on stdin (no side file; secrets are
read from the environment it inherits, never passed) and returns; the process outlives its
caller, sends to each channel in a thread of its own (a hanging channel does not hold back the
others), and exits. Its cost, a Python start-up, is paid once per alert episode or registry event.

**Bounded.** Each attempt has the channel's ``timeout``; at most ``1 + retries`` attempts, the
pauses doubling from ``backoff`` seconds. Connection errors, timeouts, HTTP 429 and 5xx and SMTP
4xx replies are retried; any other refusal (HTTP 4xx, a login the SMTP server refuses, a missing
variable) fails at once: retrying cannot fix it.

**Recorded.** Every attempt appends a ``notify`` event to the audit log (channel, event, attempt,
outcome: ``delivered``, ``retrying`` or ``failed`` with the reason). For an alert, the latest
outcome is also kept on the alert itself, as tags ``nbops.alert.notify.<opened|resolved>.<channel>.
{state,attempts,detail,at}``, so the sidebar and ``nbops monitor check --json`` show it. Before the
first attempt the sender claims the write-once param of the same name on the alert: one message
per episode and channel, however many processes were asked to send it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import audit, config, store
from ..errors import ConfigError
from . import messages
from .channels import Channel, channels, mlflow_ui

_Start = config.Start

DELIVERED, RETRYING, FAILED = "delivered", "retrying", "failed"
SIGNATURE_HEADER = "X-Nbops-Signature"
MODULE = "nbops.notify.delivery"
#: The alert's tags (``alerting.TAG``): delivery outcomes are fields of the alert.
ALERT_TAG = "nbops.alert."
_STAGE = {"alert-opened": "opened", "review-overdue": "opened", "alert-resolved": "resolved"}


@dataclass(frozen=True)
class Attempt:
    """What one try got back: ``ok``, whether another try could help, and the receiver's answer."""

    ok: bool
    retry: bool
    detail: str


# --- one attempt -------------------------------------------------------------------------------


def attempt(channel: Channel, ev: dict[str, Any], environ: Mapping[str, str] | None = None) -> Attempt:
    """Send ``ev`` to ``channel`` once; never raises."""
    try:
        if channel.type == "email":
            return _smtp(channel, ev, environ)
        body = messages.slack_body(ev) if channel.type == "slack" else messages.webhook_body(ev)
        headers = {"Content-Type": "application/json", "User-Agent": "nbops", "X-Nbops-Delivery": ev["id"]}
        if channel.secret_env:
            headers[SIGNATURE_HEADER] = signature(channel.env("secret_env", environ), body)
        return _post(channel.url(environ), body, headers, channel.timeout)
    except ConfigError as exc:
        return Attempt(False, False, str(exc))
    except Exception as exc:  # a bug must not escape into a background thread unrecorded
        return Attempt(False, False, f"{type(exc).__name__}: {exc}")


def signature(key: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body under key>``: what the receiver recomputes and compares."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Attempt:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(200).decode("utf-8", "replace").strip()
            return Attempt(True, False, f"HTTP {response.status}" + (f" {answer}" if answer else ""))
    except urllib.error.HTTPError as exc:
        answer = exc.read(200).decode("utf-8", "replace").strip()
        retry = exc.code == 429 or exc.code >= 500
        return Attempt(False, retry, f"HTTP {exc.code}" + (f" {answer}" if answer else f" {exc.reason}"))
    except TimeoutError:
        return Attempt(False, True, f"no answer within {timeout:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Attempt(False, True, f"no answer within {timeout:g} s")
        return Attempt(False, True, f"cannot connect: {reason}")
    except OSError as exc:
        return Attempt(False, True, f"connection failed: {exc}")


def _smtp(channel: Channel, ev: dict[str, Any], environ: Mapping[str, str] | None) -> Attempt:
    password = channel.env("password_env", environ) if channel.password_env else None
    assert channel.host and channel.sender
    try:
        with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=channel.cafile))
            if channel.username and password is not None:
                smtp.login(channel.username, password)
            refused = smtp.send_message(messages.email(ev, channel.sender, channel.to))
    except smtplib.SMTPAuthenticationError as exc:
        return Attempt(False, False, f"the SMTP server refused the login: {_smtp_reply(exc)}")
    except smtplib.SMTPNotSupportedError as exc:
        return Attempt(
            False,
            False,
            f"the SMTP server does not offer it: {exc}; set starttls = false only on a trusted network",
        )
    except smtplib.SMTPResponseException as exc:
        return Attempt(False, 400 <= exc.smtp_code < 500, f"SMTP {_smtp_reply(exc)}")
    except smtplib.SMTPRecipientsRefused as exc:
        return Attempt(False, False, f"every recipient refused: {', '.join(exc.recipients)}")
    except ssl.SSLError as exc:
        return Attempt(False, False, f"STARTTLS failed: {exc.reason or exc}")
    except TimeoutError:
        return Attempt(False, True, f"no answer within {channel.timeout:g} s")
    except (smtplib.SMTPException, OSError) as exc:
        return Attempt(False, True, f"cannot deliver: {exc}")
    accepted = len(channel.to) - len(refused)
    return Attempt(True, False, f"SMTP accepted for {accepted} of {len(channel.to)} recipients")


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    text = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    return f"{exc.smtp_code} {text}".strip()


# --- retries and records -----------------------------------------------------------------------


def deliver(
    channel: Channel,
    ev: dict[str, Any],
    start: _Start = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempt:
    """Send with bounded retries, recording each attempt; returns the last one.

    For an alert, nothing is sent unless this call wins the alert's claim for the channel.
    """
    if ev.get("record") and ev["kind"] in _STAGE and not _claim(ev, channel.name, start):
        return Attempt(True, False, "already sent for this alert")
    tries = 1 + channel.retries
    last = Attempt(False, False, "not attempted")
    for number in range(1, tries + 1):
        last = attempt(channel, ev)
        more = not last.ok and last.retry and number < tries
        state = DELIVERED if last.ok else RETRYING if more else FAILED
        _record(channel, ev, number, state, last.detail, start)
        if not more:
            return last
        sleep(channel.backoff * 2 ** (number - 1))
    return last


def _prefix(ev: dict[str, Any], channel: str) -> str:
    return f"{ALERT_TAG}notify.{_STAGE[ev['kind']]}.{channel}"


def _claim(ev: dict[str, Any], channel: str, start: _Start) -> bool:
    """True when this sender is the one to send; also when the store cannot say (better twice than never)."""
    from mlflow.exceptions import MlflowException

    try:
        client = store.client(start)
        token = uuid.uuid4().hex
        with contextlib.suppress(MlflowException):  # refused: another sender's claim is there
            client.log_param(ev["record"], _prefix(ev, channel), token)
        return client.get_run(ev["record"]).data.params.get(_prefix(ev, channel)) == token
    except Exception:
        return True


def _record(
    channel: Channel, ev: dict[str, Any], number: int, state: str, detail: str, start: _Start
) -> None:
    """The attempt's outcome on the alert (latest wins) and in the audit log (every one)."""
    with contextlib.suppress(Exception):  # a store that is down must not stop the retries
        if ev.get("record") and ev["kind"] in _STAGE:
            from mlflow.entities import RunTag

            prefix = _prefix(ev, channel.name)
            store.client(start).log_batch(
                ev["record"],
                tags=[
                    RunTag(f"{prefix}.state", state),
                    RunTag(f"{prefix}.attempts", str(number)),
                    RunTag(f"{prefix}.detail", detail[:500]),
                    RunTag(f"{prefix}.at", messages.now()),
                ],
            )
    with contextlib.suppress(Exception):
        details = {"channel": channel.name, "type": channel.type, "event": ev["kind"], "message": ev["id"],
                   "attempt": str(number), "outcome": state, "alias": ev.get("alias") or ""}  # fmt: skip
        if ev.get("record"):
            details["alert" if ev["kind"] in _STAGE else "record"] = ev["record"]
        audit.append(
            "notify",
            model=ev.get("model"),
            version=ev.get("version"),
            reason=f"{channel.name}: {state} (attempt {number}): {detail}"[: audit.REASON_LIMIT],
            source="notify",
            details=details,
            start=start,
        )


def outcomes(alert: Mapping[str, Any]) -> dict[str, dict[str, dict[str, str]]]:
    """An alert's delivery outcomes as read (``alerting.alerts`` fields): stage → channel → fields."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for key, value in alert.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "notify" and parts[1] in ("opened", "resolved"):
            out.setdefault(parts[1], {}).setdefault(parts[2], {})[parts[3]] = value
    return out


# --- enrich, fan out -----------------------------------------------------------------------------


def enrich(ev: dict[str, Any], start: _Start = None) -> dict[str, Any]:
    """Add what the caller did not look up (the aliases a version holds, the link); best effort."""
    ev = dict(ev)
    with contextlib.suppress(Exception):
        if ev.get("model") and ev.get("version") and not ev.get("alias"):
            aliases = store.client(start).get_model_version(ev["model"], ev["version"]).aliases
            ev["alias"] = ", ".join(sorted(aliases)) or None
        base = mlflow_ui(start)
        if base and ev.get("run_id"):
            experiment = store.client(start).get_run(ev["run_id"]).info.experiment_id
            ev["link"] = f"{base}/#/experiments/{experiment}/runs/{ev['run_id']}"
        elif base and ev.get("model") and ev.get("version"):
            from urllib.parse import quote

            ev["link"] = f"{base}/#/models/{quote(ev['model'], safe='')}/versions/{ev['version']}"
    return ev


def send_all(ev: dict[str, Any], names: list[str], start: _Start = None) -> dict[str, Attempt]:
    """Deliver ``ev`` to each named channel at once (a thread each); wait for all, return outcomes."""
    try:
        known = channels(start)
    except ConfigError as exc:
        known, broken = {}, str(exc)
    else:
        broken = ""
    ev = enrich(ev, start)
    results: dict[str, Attempt] = {}

    def one(name: str) -> None:
        channel = known.get(name)
        if channel is None:
            reason = broken or f"channel {name!r} is not defined under [tool.nbops.notify]"
            channel = Channel(name, "webhook", retries=0)
            _record(channel, ev, 1, FAILED, reason, start)
            results[name] = Attempt(False, False, reason)
            return
        try:
            results[name] = deliver(channel, ev, start)
        except Exception as exc:  # a bug here must still leave a record
            _record(channel, ev, 0, FAILED, f"{type(exc).__name__}: {exc}", start)
            results[name] = Attempt(False, False, str(exc))

    threads = [threading.Thread(target=one, args=(n,), name=f"nbops-notify-{n}") for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def spawn(ev: dict[str, Any], names: list[str], start: _Start = None) -> subprocess.Popen[bytes] | None:
    """Start the detached sender for ``ev`` and return at once (see the module's docstring)."""
    names = list(dict.fromkeys(names))
    if not names:
        return None
    settings = config.resolve(start)
    payload = json.dumps({"project_root": str(settings.project_root), "event": ev, "channels": names})
    env = os.environ | {config.ENV_TRACKING_URI: settings.tracking_uri}
    proc = subprocess.Popen(
        [sys.executable, "-m", MODULE],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        cwd=settings.project_root, env=env, start_new_session=True,
    )  # fmt: skip
    assert proc.stdin is not None
    with contextlib.suppress(OSError):  # a few kB: fits the pipe's buffer, so this does not block
        proc.stdin.write(payload.encode())
    with contextlib.suppress(OSError):
        proc.stdin.close()
    # Reaped when it ends, so a long-lived kernel collects no zombies; it outlives a short caller.
    threading.Thread(target=proc.wait, name=f"nbops-notify-{proc.pid}", daemon=True).start()
    return proc


def main(argv: list[str] | None = None) -> int:
    """The detached sender: the event on stdin, the project's store from the environment."""
    request = json.loads(sys.stdin.read())
    root = Path(request["project_root"])
    results = send_all(request["event"], list(request["channels"]), start=root)
    return 0 if all(r.ok for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
