// RegistryWidget view: models, a model's versions, a version's card; promote and roll back.
// Everything from the store is set with textContent, except the model card, which Python
// renders with nbops.cards.to_html_fragment (raw HTML escaped, unsafe links dropped).
// The forms live in this view only; promote and rollback go to Python with model.send,
// which answers {type: "done", ok} once the traits are updated.

import { batched, button, formatNumber, formatTime, h, watch } from "./common.js";

// A button whose `focusKey` lets a repaint put the keyboard focus back where it was.
function focusable(className, text, focusKey, onClick) {
  const node = button(className, text, onClick);
  node.dataset.focus = focusKey;
  return node;
}

// A text input inside its <label>, so the label names it for screen readers.
function field(labelText, className, value, focusKey, onInput) {
  const label = h("label", "nbops-registry-field");
  label.appendChild(h("span", "nbops-registry-field-label", labelText));
  const input = h("input", className);
  input.type = "text";
  input.value = value;
  input.dataset.focus = focusKey;
  input.addEventListener("input", () => onInput(input.value));
  label.appendChild(input);
  return { label, input };
}

function aliasBadge(alias, version) {
  const text = version === undefined ? alias : `${alias} → v${version}`;
  return h("span", "nbops-badge nbops-registry-badge", text);
}

// --- the models list ---------------------------------------------------------------

function renderModels(model, view) {
  const box = h("div", "nbops-registry-models");
  box.appendChild(h("div", "nbops-registry-heading", "Registered models"));
  const models = model.get("models");
  if (!models.length) {
    box.appendChild(
      h(
        "div",
        "nbops-registry-note",
        "No registered models yet. Register one with %register or nbops.registry.register().",
      ),
    );
    return box;
  }
  const list = h("ul", "nbops-registry-model-list");
  for (const m of models) {
    const item = h("li");
    const selected = m.name === model.get("selected_model");
    const pick = focusable("nbops-registry-model", null, `model:${m.name}`, () =>
      view.request({ type: "select_model", name: m.name }),
    );
    pick.setAttribute("aria-pressed", String(selected));
    pick.dataset.name = m.name;
    pick.appendChild(h("span", "nbops-registry-model-name", m.name));
    const aliases = Object.keys(m.aliases).sort();
    for (const alias of aliases) pick.appendChild(aliasBadge(alias, m.aliases[alias]));
    pick.appendChild(
      h("span", "nbops-registry-latest", m.latest_version ? `latest v${m.latest_version}` : "no versions"),
    );
    item.appendChild(pick);
    list.appendChild(item);
  }
  box.appendChild(list);
  return box;
}

// --- the versions table ------------------------------------------------------------

function renderVersions(model, view) {
  const name = model.get("selected_model");
  const box = h("div", "nbops-registry-versions");
  box.appendChild(h("div", "nbops-registry-heading", `Versions of ${name}`));
  const versions = model.get("versions");
  if (!versions.length) {
    box.appendChild(h("div", "nbops-registry-note", "This model has no versions."));
    return box;
  }
  const table = h("table", "nbops-widget-table nbops-registry-table");
  const head = table.createTHead().insertRow();
  for (const title of ["Version", "Aliases", "Created", "Metrics of the training run"]) {
    const th = h("th", "", title);
    th.scope = "col";
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const v of versions) {
    const row = body.insertRow();
    row.className = "nbops-registry-version-row";
    row.dataset.version = v.version;
    const selected = v.version === model.get("selected_version");
    if (selected) row.classList.add("nbops-registry-selected");
    const pick = focusable("nbops-registry-version", `v${v.version}`, `version:${v.version}`, () =>
      view.request({ type: "select_version", version: v.version }),
    );
    pick.setAttribute("aria-pressed", String(selected));
    pick.setAttribute("aria-label", `Version ${v.version}: show its model card`);
    row.insertCell().appendChild(pick);
    const aliases = row.insertCell();
    aliases.className = "nbops-registry-aliases";
    for (const alias of v.aliases) aliases.appendChild(aliasBadge(alias));
    row.insertCell().textContent = formatTime(v.created, false);
    const metrics = h("div", "nbops-registry-metrics");
    row.insertCell().appendChild(metrics);
    const keys = Object.keys(v.metrics);
    if (!keys.length) metrics.appendChild(h("span", "nbops-registry-none", "none"));
    for (const key of keys) {
      const pair = h("span", "nbops-registry-metric");
      pair.appendChild(h("span", "nbops-registry-metric-key", key));
      pair.appendChild(h("span", "nbops-registry-metric-value", formatNumber(v.metrics[key])));
      metrics.appendChild(pair);
    }
    if (v.metric_count > keys.length)
      metrics.appendChild(h("span", "nbops-registry-none", `+${v.metric_count - keys.length} more`));
  }
  box.appendChild(table);
  return box;
}

// --- promote and rollback ----------------------------------------------------------

function confirmQuestion(model, ui) {
  const name = model.get("selected_model");
  if (ui.mode === "promote") return `Point ${ui.alias} of ${name} at version ${ui.version}?`;
  const current = (model.get("models").find((m) => m.name === name) || { aliases: {} }).aliases[ui.alias];
  const from = current ? ` from version ${current}` : "";
  return `Roll ${ui.alias} of ${name} back${from} to the version it held before?`;
}

function renderActions(model, view) {
  const ui = view.ui;
  const box = h("div", "nbops-registry-actions");
  const version = model.get("selected_version");
  if (!ui.mode) {
    if (version)
      box.appendChild(
        focusable("nbops-registry-promote", `Promote v${version}…`, "promote", () =>
          view.open("promote", version),
        ),
      );
    box.appendChild(
      focusable("nbops-registry-rollback", "Rollback…", "rollback", () => view.open("rollback", null)),
    );
    return box;
  }

  const form = h("form", `nbops-registry-form nbops-registry-form-${ui.mode}`);
  form.noValidate = true; // the reason is checked here and in Python, with our own message
  form.setAttribute(
    "aria-label",
    ui.mode === "promote" ? `Promote version ${ui.version}` : "Roll back an alias",
  );
  const busy = ui.pending !== null;
  if (ui.step === "form") {
    const alias = field("Alias", "nbops-registry-alias", ui.alias, "alias", (value) => {
      ui.alias = value;
    });
    const reason = field(
      "Reason (for the audit log)",
      "nbops-registry-reason",
      ui.reason,
      "reason",
      (value) => {
        ui.reason = value;
      },
    );
    reason.input.required = true;
    reason.input.placeholder = "required";
    if (ui.mode === "rollback") {
      // Suggest the aliases the model has; any alias may still be typed.
      const list = h("datalist");
      list.id = `${view.id}-aliases`;
      const current = model.get("models").find((m) => m.name === model.get("selected_model"));
      for (const a of Object.keys((current && current.aliases) || {}).sort())
        list.appendChild(h("option", "", a)).value = a;
      alias.input.setAttribute("list", list.id);
      form.appendChild(list);
    }
    // Enter in a field continues, as in any form. The browser's own implicit submission does
    // not fire inside a JupyterLab output (seen in the browser test), so do it here.
    for (const input of [alias.input, reason.input]) {
      input.addEventListener("keydown", (event) => {
        if (
          event.key === "Enter" &&
          !event.isComposing &&
          !event.shiftKey &&
          !event.ctrlKey &&
          !event.metaKey
        ) {
          event.preventDefault();
          form.requestSubmit();
        }
      });
    }
    form.appendChild(alias.label);
    form.appendChild(reason.label);
    if (ui.note) {
      const note = h("div", "nbops-widget-error nbops-registry-note-error", ui.note);
      note.id = `${view.id}-note`;
      const invalid = ui.alias ? reason.input : alias.input;
      invalid.setAttribute("aria-describedby", note.id);
      invalid.setAttribute("aria-invalid", "true");
      form.appendChild(note);
    }
    const next = h(
      "button",
      "nbops-widget-button nbops-registry-continue",
      ui.mode === "promote" ? "Promote…" : "Roll back…",
    );
    next.type = "submit";
    next.dataset.focus = "continue";
    form.appendChild(next);
    form.appendChild(focusable("nbops-registry-cancel", "Cancel", "cancel", () => view.close()));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ui.alias = ui.alias.trim();
      if (!ui.alias) {
        ui.note = "An alias is required, e.g. champion.";
        view.paint("alias");
      } else if (!ui.reason.trim()) {
        ui.note = "A reason is required: it goes into the audit log.";
        view.paint("reason");
      } else {
        ui.note = "";
        ui.step = "confirm";
        view.paint("confirm");
      }
    });
  } else {
    form.setAttribute("role", "alertdialog");
    const question = h("div", "nbops-registry-question", confirmQuestion(model, ui));
    question.id = `${view.id}-question`;
    form.setAttribute("aria-describedby", question.id);
    form.appendChild(question);
    form.appendChild(h("div", "nbops-registry-reason-shown", `Reason: ${ui.reason.trim()}`));
    const confirm = h("button", "nbops-widget-button nbops-registry-confirm", busy ? "Working…" : "Confirm");
    confirm.type = "submit";
    confirm.dataset.focus = "confirm";
    confirm.disabled = busy;
    form.appendChild(confirm);
    const cancel = focusable("nbops-registry-cancel", "Cancel", "cancel", () => view.close());
    cancel.disabled = busy;
    form.appendChild(cancel);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (ui.pending !== null) return;
      const request = {
        type: ui.mode,
        model: model.get("selected_model"),
        alias: ui.alias,
        reason: ui.reason,
      };
      if (ui.mode === "promote") request.version = ui.version;
      view.request(request);
    });
  }
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.pending === null) {
      event.preventDefault();
      view.close();
    }
  });
  box.appendChild(form);
  return box;
}

// --- the card preview --------------------------------------------------------------

function renderCard(model) {
  const box = h("div", "nbops-registry-card");
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", `Model card of version ${model.get("selected_version")}`);
  // innerHTML only here, and only because card_html is already sanitised: Python renders it
  // with nbops.cards.to_html_fragment, which escapes every raw HTML tag in the Markdown and
  // drops javascript: links. Nothing else in this widget is parsed as HTML.
  box.innerHTML = model.get("card_html");
  return box;
}

// --- the whole widget --------------------------------------------------------------

function renderWidget(model, view) {
  const root = h("div", "nbops-widget nbops-registry");
  if (view.ui.pending !== null) root.setAttribute("aria-busy", "true");

  const bar = h("div", "nbops-widget-bar nbops-registry-bar");
  bar.appendChild(h("span", "nbops-widget-title nbops-registry-title", "Model registry"));
  const refresh = focusable("nbops-registry-refresh", "Refresh", "refresh", () =>
    view.request({ type: "refresh" }),
  );
  refresh.disabled = view.ui.pending !== null;
  bar.appendChild(refresh);
  root.appendChild(bar);

  // Live regions: screen readers announce the outcome of a promotion or rollback.
  const status = h("div", "nbops-registry-status");
  status.setAttribute("role", "status");
  if (model.get("message")) status.appendChild(h("div", "nbops-registry-message", model.get("message")));
  root.appendChild(status);
  const alert = h("div", "nbops-registry-alert");
  alert.setAttribute("role", "alert");
  if (model.get("error"))
    alert.appendChild(h("div", "nbops-widget-error nbops-registry-error", model.get("error")));
  root.appendChild(alert);

  const columns = h("div", "nbops-registry-columns");
  columns.appendChild(renderModels(model, view));
  if (model.get("selected_model")) {
    const detail = h("div", "nbops-registry-detail");
    detail.appendChild(renderVersions(model, view));
    detail.appendChild(renderActions(model, view));
    if (model.get("selected_version") && model.get("card_html")) detail.appendChild(renderCard(model));
    columns.appendChild(detail);
  }
  root.appendChild(columns);
  return root;
}

const TRAITS = ["models", "selected_model", "versions", "selected_version", "card_html", "message", "error"];

let views = 0;

export default {
  render({ model, el }) {
    const view = {
      id: `nbops-registry-${++views}`,
      // The open form, if any: mode "promote" | "rollback" | null, step "form" | "confirm".
      ui: { mode: null, step: "form", version: null, alias: "champion", reason: "", note: "", pending: null },
      // The data-focus key of the control focused last in this view.
      lastFocus: null,
      paint(focusKey) {
        // Keep the keyboard where it was (or move it where the new step starts). A repaint
        // replaces the focused control, which leaves the focus on <body>: restore it then,
        // but never take the focus from something outside this widget.
        const active = document.activeElement;
        const lost = !active || active === document.body;
        const key = focusKey || (el.contains(active) || lost ? view.lastFocus : null);
        el.replaceChildren(renderWidget(model, view));
        if (key) {
          const target = [...el.querySelectorAll("[data-focus]")].find((n) => n.dataset.focus === key);
          if (target && !target.disabled) target.focus();
        }
      },
      request(content) {
        view.ui.pending = content.type;
        model.send(content);
        view.paint();
      },
      open(mode, version) {
        Object.assign(view.ui, { mode, version, step: "form", alias: "champion", reason: "", note: "" });
        view.paint("reason");
      },
      close() {
        const mode = view.ui.mode;
        Object.assign(view.ui, { mode: null, step: "form", note: "" });
        view.paint(mode);
      },
    };

    const draw = batched(() => view.paint());
    const onMessage = (msg) => {
      if (!msg || msg.type !== "done") return;
      const ui = view.ui;
      ui.pending = null;
      if (msg.request === "promote" || msg.request === "rollback") {
        if (msg.ok) {
          const mode = ui.mode;
          Object.assign(ui, { mode: null, step: "form", reason: "", note: "" });
          view.paint(mode); // focus the Promote/Rollback button again
          return;
        }
        ui.step = "form"; // refused: back to the form, to change the alias or the reason
        view.paint("reason");
        return;
      }
      // Another model or version: a form opened for the previous one no longer applies.
      if ((msg.request === "select_model" || msg.request === "select_version") && msg.ok)
        Object.assign(ui, { mode: null, step: "form", note: "" });
      draw();
    };
    const onFocus = (event) => {
      if (event.target.dataset && event.target.dataset.focus) view.lastFocus = event.target.dataset.focus;
    };
    el.addEventListener("focusin", onFocus);
    view.paint();
    const unwatch = watch(model, TRAITS, draw);
    model.on("msg:custom", onMessage);
    return () => {
      unwatch();
      model.off("msg:custom", onMessage);
      el.removeEventListener("focusin", onFocus);
    };
  },
};
