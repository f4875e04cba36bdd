"""``registry_widget()``: the model registry in a notebook output, with promote and rollback.

The widget lists the registered models (aliases as ``champion → v3`` badges, the
latest version), a selected model's versions with a few metrics of each training
run, and a selected version's model card. Promote and rollback call the same
core functions as ``%promote`` and ``%rollback``, so they need a reason and land
in the audit log with this notebook as their source. Its mimebundle also carries
a static HTML table of the models, for viewers that do not run widgets.

Protocol: the browser sends, with ``model.send``,

- ``{"type": "select_model", "name": "churn"}``
- ``{"type": "select_version", "version": "3"}`` (of the selected model)
- ``{"type": "promote", "model": "churn", "version": "3", "alias": "champion", "reason": "..."}``
- ``{"type": "rollback", "model": "churn", "alias": "champion", "reason": "..."}``
- ``{"type": "refresh"}``

and Python answers each with ``{"type": "done", "request": <type>, "ok": <bool>}``
after updating the traits. A refusal (an ``NbopsError``) becomes the one-line
``error`` trait, a success the one-line ``message`` trait; everything else flows
back as traits too.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import cards, lineage, registry, runs
from ..errors import InvalidInput, NbopsError
from .common import css, esm, with_static_fallback

_log = logging.getLogger(__name__)

#: How many metrics of a version's training run the versions table shows.
KEY_METRICS = 4


class RegistryWidget(anywidget.AnyWidget):
    """Registered models, a model's versions and a version's card; promote and roll back."""

    _esm = esm("registry.js")
    _css = css("registry.css")

    #: ``nbops.registry.list_models()``: name, description, aliases (alias → version), latest_version.
    models = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The model whose versions are shown ("" for none).
    selected_model = traitlets.Unicode("").tag(sync=True)
    #: Its versions, newest first: version, aliases, created (epoch ms), run_id,
    #: metrics (up to ``KEY_METRICS`` of the training run's, by name) and metric_count (all of them).
    versions = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: The version whose card is shown ("" for none).
    selected_version = traitlets.Unicode("").tag(sync=True)
    #: The card of the selected version as HTML from ``cards.to_html_fragment`` (raw HTML escaped).
    card_html = traitlets.Unicode("").tag(sync=True)
    #: One line after a promotion or rollback went through; empty otherwise.
    message = traitlets.Unicode("").tag(sync=True)
    #: One line for the user when the core refused a request; empty otherwise.
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, model: str | None = None, start: Path | str | None = None, **kwargs: Any) -> None:
        """List the models now and, if ``model`` is given, show its versions.

        Refusals of the store (unreachable, unknown model) become the ``error``
        line rather than an exception, so the user sees them where the lists would be.
        """
        super().__init__(**kwargs)
        self._start = start
        self._metrics: dict[str, tuple[dict[str, float], int]] = {}
        self.on_msg(self._on_message)
        try:
            self.refresh()
            if model:
                self.select_model(model)
        except NbopsError as exc:
            self.error = str(exc)

    # -- what the browser asks for (each raises NbopsError on refusal) -----------------

    def refresh(self) -> None:
        """Read the models again, and the selected model's versions and card."""
        self._metrics.clear()
        models = registry.list_models(self._start)
        with self.hold_sync():
            self.models = models
            if self.selected_model and self.selected_model not in {m["name"] for m in models}:
                self.selected_model = self.selected_version = self.card_html = ""
                self.versions = []
            if self.selected_model:
                self.versions = self._versions(self.selected_model)
                if self.selected_version:
                    self.card_html = self._card(self.selected_model, self.selected_version)

    def select_model(self, name: str) -> None:
        """Show the versions of model ``name`` (no version selected)."""
        versions = self._versions(name)
        with self.hold_sync():
            self.selected_model = name
            self.versions = versions
            self.selected_version = self.card_html = ""

    def select_version(self, version: str | int) -> None:
        """Show the model card of ``version`` of the selected model."""
        if not self.selected_model:
            raise InvalidInput("select a model first.")
        version = str(version)
        card = self._card(self.selected_model, version)
        with self.hold_sync():
            self.selected_version = version
            self.card_html = card

    def promote(self, version: str | int, alias: str, reason: str | None, model: str | None = None) -> str:
        """Point ``alias`` of ``model`` (default: the selected one) at ``version``; the message shown."""
        name = self._model_to_change(model)
        done = registry.promote(name, version, alias, reason, source=self._source(), start=self._start)
        before = f" (was version {done['from_version']})" if done["from_version"] else ""
        return self._succeeded(f"✓ {alias} of {name} → version {done['to_version']}{before}")

    def rollback(self, alias: str, reason: str | None, model: str | None = None) -> str:
        """Point ``alias`` of ``model`` (default: the selected one) back where it was; the message shown."""
        name = self._model_to_change(model)
        done = registry.rollback(name, alias, reason, source=self._source(), start=self._start)
        return self._succeeded(
            f"✓ {alias} of {name} rolled back to version {done['to_version']} (was {done['from_version']})"
        )

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        ok = False
        try:
            with self.hold_sync():
                self.error = ""
                if kind != "refresh":
                    self.message = ""
            if kind == "select_model":
                self.select_model(str(content.get("name", "")))
            elif kind == "select_version":
                self.select_version(str(content.get("version", "")))
            elif kind == "promote":
                self.promote(
                    str(content.get("version", "")),
                    str(content.get("alias", "")).strip(),
                    content.get("reason"),
                    content.get("model"),
                )
            elif kind == "rollback":
                self.rollback(
                    str(content.get("alias", "")).strip(), content.get("reason"), content.get("model")
                )
            elif kind == "refresh":
                self.refresh()
            else:
                raise InvalidInput(f"unknown request {kind!r} from the registry widget.")
            ok = True
        except NbopsError as exc:
            self.error = " ".join(str(exc).split())
        except Exception as exc:  # a comm handler's exception would only reach the kernel log
            _log.exception("nbops registry widget: %s failed", kind)
            self.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        finally:
            # Even when no trait changed, the browser must stop showing the request as pending
            # (and learns whether to close the promote/rollback form).
            self.send({"type": "done", "request": kind, "ok": ok})

    # -- talking to the core ---------------------------------------------------------

    def _model_to_change(self, model: str | None) -> str:
        name = (model or self.selected_model or "").strip()
        if not name:
            raise InvalidInput("select a model first.")
        return name

    def _versions(self, name: str) -> list[dict[str, Any]]:
        rows = []
        for v in registry.list_versions(name, self._start):
            metrics, count = self._key_metrics(v["run_id"])
            rows.append(
                {
                    "version": v["version"],
                    "aliases": v["aliases"],
                    "created": v["created"],
                    "run_id": v["run_id"],
                    "metrics": metrics,
                    "metric_count": count,
                }
            )
        return rows

    def _key_metrics(self, run_id: str | None) -> tuple[dict[str, float], int]:
        """The first ``KEY_METRICS`` final metrics of the training run by name, and how many it has."""
        if not run_id:
            return {}, 0
        if run_id not in self._metrics:
            try:
                metrics = runs.run_details(run_id, self._start)["metrics"]
            except NbopsError:  # the run was deleted: the version is still listed, without metrics
                metrics = {}
            self._metrics[run_id] = ({k: metrics[k] for k in sorted(metrics)[:KEY_METRICS]}, len(metrics))
        return self._metrics[run_id]

    def _card(self, name: str, version: str) -> str:
        return cards.to_html_fragment(registry.model_card(name, version, self._start))

    def _succeeded(self, line: str) -> str:
        """After a change: read everything again, then say what happened."""
        self.refresh()
        self.message = line
        return line

    @staticmethod
    def _source() -> str | None:
        """The notebook the widget runs in, as the magics record it."""
        user_ns = None
        try:
            from IPython import get_ipython

            shell = get_ipython()
            user_ns = shell.user_ns if shell is not None else None
        except ImportError:  # pragma: no cover - IPython comes with every kernel
            pass
        return lineage.notebook_path(user_ns)

    # -- static rendering -------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict | None:
        return with_static_fallback(super()._repr_mimebundle_(**kwargs), self.static_html(), self._plain())

    def static_html(self) -> str:
        """The models as a plain HTML table (name, aliases, latest version); all values escaped."""
        esc = html.escape
        parts = ['<div class="nbops-registry-static">']
        if self.error:
            parts.append(f'<p style="color: var(--jp-error-color1, #d32f2f)">{esc(self.error)}</p>')
        if not self.models:
            parts.append("<p>No registered models.</p></div>")
            return "".join(parts)
        parts.append("<table><thead><tr><th>Model</th><th>Aliases</th><th>Latest version</th></tr></thead>")
        parts.append("<tbody>")
        for model in self.models:
            aliases = ", ".join(f"{alias} → v{v}" for alias, v in sorted(model["aliases"].items()))
            latest = f"v{model['latest_version']}" if model["latest_version"] else "—"
            parts.append(
                f"<tr><td>{esc(model['name'])}</td><td>{esc(aliases or '—')}</td><td>{esc(latest)}</td></tr>"
            )
        parts.append("</tbody></table></div>")
        return "".join(parts)

    def _plain(self) -> str:
        lines = [f"RegistryWidget: {len(self.models)} registered model{'' if len(self.models) == 1 else 's'}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for model in self.models[:20]:
            aliases = " ".join(f"@{alias}→v{v}" for alias, v in sorted(model["aliases"].items()))
            lines.append(f"  {model['name']} latest v{model['latest_version'] or '—'} {aliases}".rstrip())
        if len(self.models) > 20:
            lines.append(f"  … {len(self.models) - 20:,} more")
        return "\n".join(lines)


def registry_widget(model: str | None = None) -> RegistryWidget:
    """The project's registered models; ``model`` opens that model's versions at once."""
    return RegistryWidget(model)
