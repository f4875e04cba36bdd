"""Notification channels and subscriptions, read from ``[tool.nbops.notify]`` and checked.

A channel is a table; a secret is never one of its values, only the name of the environment
variable that holds it, so ``pyproject.toml`` can be committed and reviewed::

    [tool.nbops.notify]
    mlflow_ui = "https://mlflow.example.com"   # optional: links in messages (default: the store, if http)

    [tool.nbops.notify.oncall]
    type = "webhook"                  # a JSON POST
    url_env = "ONCALL_WEBHOOK_URL"
    secret_env = "ONCALL_SIGNING_KEY" # optional: X-Nbops-Signature: sha256=HMAC(key, body)

    [tool.nbops.notify.team]
    type = "slack"                    # a Slack incoming webhook
    url_env = "SLACK_WEBHOOK_URL"

    [tool.nbops.notify.mail]
    type = "email"                    # SMTP, STARTTLS unless starttls = false
    host = "smtp.example.com"
    port = 587
    from = "nbops@example.com"
    to = ["ml-team@example.com"]
    username = "nbops"
    password_env = "SMTP_PASSWORD"

    [tool.nbops.notify.events]        # registry and gate events, beside alert rules' notify = [...]
    promotion = ["team"]
    forced_promotion = ["team", "oncall"]
    rollback = ["team"]
    gate_failure = ["team"]
    retraining = ["team"]             # a retraining job finished or failed
    canary = ["team", "oncall"]       # a canary verdict
    review_overdue = ["team"]         # a health review is overdue (also the alert's own notify)

Reading the tables (``channels``) checks their shape only, so monitoring never fails because a
variable is missing on one machine; ``readiness`` checks what delivery needs (the variables set,
the URL well-formed) and is what ``nbops notify list`` reports.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import config
from ..errors import ConfigError

_Start = config.Start

TYPES = ("webhook", "slack", "email")
#: Event name in ``[tool.nbops.notify.events]`` → what it notifies of.
EVENTS = {
    "promotion": "an alias moved to a version (nbops promote)",
    "forced_promotion": "a promotion that overrode the promotion policy (--force)",
    "rollback": "an alias rolled back to the version it held before",
    "gate_failure": "a gate failed or could not run (nbops gate run)",
    "retraining": "a retraining job finished or failed (challenger, gates verdict, promoted or not)",
    "canary": "a canary rollout reached a verdict (promoted, rolled back, aborted or blocked)",
    "review_overdue": "a model's health review is older than [tool.nbops.review] every",
}
#: Keys that would hold a secret itself: refused, with the ``*_env`` key to use instead.
SECRET_KEYS = {
    "url": "url_env",
    "webhook_url": "url_env",
    "secret": "secret_env",
    "signing_key": "secret_env",
    "password": "password_env",
    "token": "url_env",
}
_KEYS = {
    "webhook": {"type", "url_env", "secret_env", "timeout", "retries", "backoff"},
    "slack": {"type", "url_env", "timeout", "retries", "backoff"},
    "email": {
        "type", "host", "port", "from", "to", "username", "password_env", "starttls", "cafile",
        "timeout", "retries", "backoff",
    },
}  # fmt: skip
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9][\w\-]{0,63}", re.ASCII)
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
RESERVED = ("events", "mlflow_ui")


@dataclass(frozen=True)
class Channel:
    """One checked channel table; secrets are the names of environment variables only."""

    name: str
    type: str
    url_env: str | None = None
    secret_env: str | None = None
    host: str | None = None
    port: int = 587
    sender: str | None = None
    to: tuple[str, ...] = ()
    username: str | None = None
    password_env: str | None = None
    starttls: bool = True
    cafile: str | None = None
    #: Seconds one attempt may take before it counts as failed (a hanging receiver).
    timeout: float = 10.0
    #: Attempts after the first; back-off doubles from ``backoff`` seconds between them.
    retries: int = 3
    backoff: float = 2.0
    where: str = field(default="", compare=False)

    def env(self, key: str, environ: Mapping[str, str] | None = None) -> str:
        """The secret held by the variable ``key`` names (``url_env``...); ConfigError when unset."""
        environ = os.environ if environ is None else environ
        variable = getattr(self, key)
        value = environ.get(variable, "").strip() if variable else ""
        if not value:
            raise ConfigError(
                f"channel {self.name}: environment variable {variable} ({key} in {self.where}) is not set; "
                "export it where nbops runs (kernel, CLI, server)."
            )
        return value

    def url(self, environ: Mapping[str, str] | None = None) -> str:
        """The webhook URL from its variable, checked to be an http(s) URL with a host."""
        value = self.env("url_env", environ)
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise ConfigError(
                f"channel {self.name}: {self.url_env} does not hold an http(s) URL with a host; "
                "set it to the receiver's full URL (https://...)."
            )
        return value

    def describe(self) -> str:
        """Where it delivers, without any secret: for ``nbops notify list``."""
        if self.type == "email":
            mode = "STARTTLS" if self.starttls else "plain"
            return f"{', '.join(self.to)} via {self.host}:{self.port} ({mode})"
        signed = f", signed with ${self.secret_env}" if self.secret_env else ""
        return f"${self.url_env}{signed}"


def _settings(start: _Start) -> tuple[dict[str, Any], Path | None]:
    settings = config.resolve(start)
    table = settings.tool.get("notify", {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"[tool.nbops.notify] in {settings.pyproject} must hold one table per channel, "
            "e.g. [tool.nbops.notify.oncall]."
        )
    return table, settings.pyproject


def channels(start: _Start = None) -> dict[str, Channel]:
    """The channels of ``[tool.nbops.notify]``, by name; a broken table is one ``ConfigError`` line."""
    table, pyproject = _settings(start)
    found = {}
    for name, spec in table.items():
        if name in RESERVED:
            continue
        where = f"[tool.nbops.notify.{name}] in {pyproject}"
        if not isinstance(spec, dict):
            raise ConfigError(f'{where} must be a table with type = "webhook", "slack" or "email".')
        if not _CHANNEL_NAME.fullmatch(name):
            raise ConfigError(f"{where}: a channel name is letters, digits, - and _ (at most 64).")
        found[name] = _channel(name, spec, where)
    return found


def _channel(name: str, spec: dict[str, Any], where: str) -> Channel:
    for key in spec:
        if key in SECRET_KEYS:
            raise ConfigError(
                f"{where}: {key} would keep a secret in pyproject.toml; "
                f'name an environment variable instead ({SECRET_KEYS[key]} = "VARIABLE").'
            )
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(TYPES)}, not {kind!r}.")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for a {kind} channel.")
    for key in ("url_env", "secret_env", "password_env"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, str) or not _ENV_NAME.fullmatch(value)):
            # Never echo the value: it may be the secret itself, pasted in the wrong place.
            raise ConfigError(
                f"{where}: {key} must be the name of an environment variable (e.g. "
                f'"{name.upper().replace("-", "_")}_{key.removesuffix("_env").upper()}"), not a value; '
                "keep secrets out of pyproject.toml."
            )
    timing = _timing(spec, where)
    if kind in ("webhook", "slack"):
        if not spec.get("url_env"):
            raise ConfigError(
                f'{where}: url_env must name the variable holding the URL, e.g. url_env = "HOOK_URL".'
            )
        return Channel(
            name, kind, url_env=spec["url_env"], secret_env=spec.get("secret_env"), where=where, **timing
        )
    host, sender, to = spec.get("host"), spec.get("from"), spec.get("to")
    if not isinstance(host, str) or not host:
        raise ConfigError(f'{where}: host must name the SMTP server, e.g. host = "smtp.example.com".')
    if not isinstance(sender, str) or not _ADDRESS.fullmatch(sender):
        raise ConfigError(f'{where}: from must be an e-mail address, e.g. from = "nbops@example.com".')
    recipients = [to] if isinstance(to, str) else to
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(isinstance(a, str) and _ADDRESS.fullmatch(a) for a in recipients)
    ):
        raise ConfigError(
            f'{where}: to must be one or more e-mail addresses, e.g. to = ["team@example.com"].'
        )
    port = spec.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{where}: port must be a TCP port number, e.g. 587.")
    username = spec.get("username")
    if username is not None and not isinstance(username, str):
        raise ConfigError(f"{where}: username must be text.")
    if bool(username) != bool(spec.get("password_env")):
        raise ConfigError(f"{where}: set username and password_env together (or neither, for no login).")
    starttls = spec.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ConfigError(f"{where}: starttls must be true or false.")
    cafile = spec.get("cafile")
    if cafile is not None and not isinstance(cafile, str):
        raise ConfigError(f"{where}: cafile must be the path of a PEM file of trusted certificates.")
    return Channel(
        name,
        kind,
        host=host,
        port=port,
        sender=sender,
        to=tuple(recipients),
        username=username,
        password_env=spec.get("password_env"),
        starttls=starttls,
        cafile=cafile,
        where=where,
        **timing,
    )


def _timing(spec: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, low in (("timeout", 0.0), ("backoff", 0.0)):
        if key in spec:
            value = spec[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not value > low
                or value > 600
            ):
                raise ConfigError(f"{where}: {key} must be a number of seconds above 0 (at most 600).")
            out[key] = float(value)
    if "retries" in spec:
        value = spec["retries"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
            raise ConfigError(f"{where}: retries must be a whole number from 0 to 10.")
        out["retries"] = value
    return out


def subscriptions(start: _Start = None) -> dict[str, list[str]]:
    """``[tool.nbops.notify.events]``: event name → channel names, checked against the channels."""
    table, pyproject = _settings(start)
    events = table.get("events", {})
    where = f"[tool.nbops.notify.events] in {pyproject}"
    if not isinstance(events, dict):
        raise ConfigError(f'{where} must be a table, e.g. promotion = ["team"].')
    known = channels(start)
    out = {}
    for event, names in events.items():
        if event not in EVENTS:
            raise ConfigError(f"{where}: unknown event {event!r}; one of {', '.join(EVENTS)}.")
        out[event] = _names(names, known, f"{where}: {event}")
    return out


def rule_channels(start: _Start = None) -> dict[str, list[str]]:
    """Alert rule → the channels its ``notify`` names, checked against the channels.

    ``[tool.nbops.review] notify`` counts as the ``review-overdue`` rule's. Read from the tables
    as written, so notification stays below monitoring.
    """
    settings = config.resolve(start)
    rules = settings.tool.get("alerts", {})
    known = channels(start)
    out = {}
    for rule, spec in rules.items() if isinstance(rules, dict) else ():
        if isinstance(spec, dict) and "notify" in spec:
            where = f"[tool.nbops.alerts.{rule}] in {settings.pyproject}: notify"
            out[rule] = _names(spec["notify"], known, where)
    review = settings.tool.get("review")
    if isinstance(review, dict) and "notify" in review:  # the review schedule's overdue alert
        where = f"[tool.nbops.review] in {settings.pyproject}: notify"
        out["review-overdue"] = _names(review["notify"], known, where)
    return out


def _names(names: Any, known: dict[str, Channel], where: str) -> list[str]:
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f'{where} must be a list of channel names, e.g. ["oncall"].')
    for name in names:
        if name not in known:
            listed = ", ".join(known) or "none yet; add [tool.nbops.notify.NAME]"
            raise ConfigError(f"{where} names channel {name!r}, which is not defined (channels: {listed}).")
    return list(dict.fromkeys(names))


def readiness(channel: Channel, environ: Mapping[str, str] | None = None) -> str | None:
    """Why ``channel`` cannot deliver here (one line), or None when it can be tried."""
    try:
        if channel.type in ("webhook", "slack"):
            channel.url(environ)
            if channel.secret_env:
                channel.env("secret_env", environ)
        elif channel.password_env:
            channel.env("password_env", environ)
        if channel.cafile and not Path(channel.cafile).is_file():
            return f"channel {channel.name}: cafile {channel.cafile} does not exist."
    except ConfigError as exc:
        return str(exc)
    return None


def mlflow_ui(start: _Start = None) -> str | None:
    """The MLflow web UI messages link to: ``mlflow_ui``, else the store when it is an http(s) server."""
    table, pyproject = _settings(start)
    value = table.get("mlflow_ui")
    if value is not None:
        if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
            raise ConfigError(f"mlflow_ui under [tool.nbops.notify] in {pyproject} must be an http(s) URL.")
        return value.rstrip("/")
    uri = config.resolve(start).tracking_uri
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return f"{parts.scheme}://{host}{parts.path}".rstrip("/")  # never the credentials
    return None
