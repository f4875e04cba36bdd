// RunCard view: renders the `run` trait (nbops.runs.run_details). Values are
// set with textContent only, so nothing from the store is ever parsed as HTML.

import { formatDuration, formatValue, h, statusBadge, watch } from "./common.js";

function pairsTable(title, values) {
  const keys = Object.keys(values || {}).sort();
  const section = h("div", "nbops-card-section");
  section.appendChild(h("div", "nbops-card-heading", title));
  if (keys.length === 0) {
    section.appendChild(h("div", "nbops-card-none", "none"));
    return section;
  }
  const table = h("table", `nbops-card-table nbops-card-${title.toLowerCase()}`);
  for (const key of keys) {
    const row = table.insertRow();
    row.appendChild(h("td", "nbops-card-key", key));
    row.appendChild(h("td", "nbops-card-value", formatValue(values[key])));
  }
  section.appendChild(table);
  return section;
}

function renderCard(run) {
  const card = h("div", "nbops-widget nbops-card");
  if (!run || !run.run_id) {
    card.appendChild(h("div", "nbops-card-none", "No run."));
    return card;
  }
  const head = h("div", "nbops-card-head");
  head.appendChild(h("span", "nbops-widget-title nbops-card-name", run.run_name || run.run_id));
  head.appendChild(statusBadge(run.status));
  card.appendChild(head);

  const facts = h("div", "nbops-card-facts");
  facts.appendChild(h("span", "nbops-card-duration", formatDuration(run.duration_ms)));
  if (run.experiment_name)
    facts.appendChild(h("span", "nbops-card-experiment", `experiment ${run.experiment_name}`));
  card.appendChild(facts);

  if (run.error) card.appendChild(h("div", "nbops-card-error", run.error));

  const body = h("div", "nbops-card-body");
  body.appendChild(pairsTable("Params", run.params));
  body.appendChild(pairsTable("Metrics", run.metrics));
  card.appendChild(body);

  card.appendChild(h("div", "nbops-card-id", `run id ${run.run_id}`));
  return card;
}

export default {
  render({ model, el }) {
    const draw = () => el.replaceChildren(renderCard(model.get("run")));
    draw();
    return watch(model, ["run"], draw);
  },
};
