// DriftReport view: renders the `rows` trait (nbops.monitoring.drift's table, one row per
// feature). Sorting happens here, in the view: the rows are all in the browser already.
// Headers are buttons, so Enter and Space sort too. Values are set with textContent only,
// so nothing from the data is ever parsed as HTML.

import { formatCount, formatNumber, formatPValue, formatShare, h, isNumber, watch } from "./common.js";

const PSI_SCALE_MIN = 0.5; // a full bar is at least this much PSI (> 0.25 is a major shift)

function shiftValue(row) {
  return row.kind === "categorical" ? row.unseen_share : row.wasserstein;
}

function shiftText(row) {
  if (row.kind === "categorical")
    return isNumber(row.unseen_share) ? `${formatShare(row.unseen_share)} unseen` : "—";
  return formatNumber(row.wasserstein);
}

function rank(row) {
  return row.drifted ? 2 : row.schema_violation ? 1 : 0;
}

function status(row) {
  if (row.drifted) return "drifted";
  if (row.schema_violation) return "schema problem";
  if (row.note || ![row.statistic, row.p_value, row.psi].some(isNumber)) return "not evaluated";
  return "no drift";
}

function statisticName(row) {
  if (isNumber(row.statistic) && row.statistic === row.ks) return "Kolmogorov–Smirnov statistic";
  if (isNumber(row.statistic) && row.statistic === row.chi2) return "χ² statistic";
  return "test statistic";
}

// As nbops.monitoring.drift.drift_share (the batch's drift.share metric): drifted features of
// those evaluated; drift() leaves a note on the rows it could not evaluate.
function summary(rows) {
  if (!rows.length) return "No features compared.";
  const tested = rows.filter((r) => !r.note);
  const drifted = tested.filter((r) => r.drifted).length;
  const share = tested.length ? Math.round((100 * drifted) / tested.length) : 0;
  const parts = [`${drifted} of ${tested.length} features drifted (${share}%)`];
  if (tested.length < rows.length) parts.push(`${rows.length - tested.length} not evaluated`);
  const schema = rows.filter((r) => r.schema_violation).length;
  if (schema) parts.push(`${schema} schema problem${schema === 1 ? "" : "s"}`);
  return parts.join(" · ");
}

// --- sorting -------------------------------------------------------------------------

// `first`: the direction a column starts in, the one people look for first (most drift on top:
// the highest statistics, the smallest p-values; names A→Z).
const COLUMNS = [
  { key: "feature", title: "Feature", first: "ascending", value: (r) => r.feature },
  { key: "kind", title: "Kind", first: "ascending", value: (r) => r.kind },
  { key: "statistic", title: "Statistic", first: "descending", value: (r) => r.statistic },
  { key: "p_value", title: "p-value", first: "ascending", value: (r) => r.p_value },
  { key: "psi", title: "PSI", first: "descending", value: (r) => r.psi },
  { key: "shift", title: "Wasserstein / unseen", first: "descending", value: shiftValue },
  // Drifted features, then schema problems, then the rest; by PSI within each.
  {
    key: "drift",
    title: "Drift",
    first: "descending",
    value: (r) => [rank(r), isNumber(r.psi) ? r.psi : -1],
  },
  { key: "note", title: "Note", first: "ascending", value: (r) => r.note || null },
];

function compareValues(a, b) {
  if (Array.isArray(a)) {
    for (let i = 0; i < a.length; i++) {
      const c = compareValues(a[i], b[i]);
      if (c) return c;
    }
    return 0;
  }
  if (typeof a === "string" || typeof b === "string")
    return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  return a < b ? -1 : a > b ? 1 : 0;
}

// Missing values (no PSI for a categorical feature, no note) go last in either direction.
function sortRows(rows, sort) {
  const column = COLUMNS.find((c) => c.key === sort.key) || COLUMNS[COLUMNS.length - 2];
  const missing = (v) => v === null || v === undefined || (typeof v === "number" && !Number.isFinite(v));
  const sign = sort.direction === "ascending" ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, value: column.value(row) }))
    .sort((a, b) => {
      const ma = missing(a.value);
      const mb = missing(b.value);
      if (ma || mb) return ma === mb ? a.index - b.index : ma ? 1 : -1;
      return sign * compareValues(a.value, b.value) || a.index - b.index;
    })
    .map((item) => item.row);
}

// --- the table -----------------------------------------------------------------------

function headerCell(view, column) {
  const th = h("th", `nbops-drift-th nbops-drift-col-${column.key}`);
  th.scope = "col";
  const sorted = view.sort.key === column.key;
  if (sorted) th.setAttribute("aria-sort", view.sort.direction);
  const button = h("button", "nbops-drift-sort");
  button.type = "button";
  button.dataset.key = column.key;
  button.title = `Sort by ${column.title}`;
  button.appendChild(h("span", "nbops-drift-th-label", column.title));
  const arrow = h(
    "span",
    "nbops-drift-arrow",
    sorted ? (view.sort.direction === "ascending" ? "▲" : "▼") : "",
  );
  arrow.setAttribute("aria-hidden", "true");
  button.appendChild(arrow);
  button.addEventListener("click", () => view.sortBy(column));
  th.appendChild(button);
  return th;
}

function driftCell(row, scale) {
  const cell = h("td", "nbops-drift-drift");
  const state = status(row);
  if (isNumber(row.psi)) {
    const width = Math.max(0, Math.min(100, (100 * row.psi) / scale));
    const track = h("span", "nbops-drift-bar");
    track.setAttribute("role", "img");
    track.setAttribute("aria-label", `PSI ${formatNumber(row.psi)} of ${formatNumber(scale)}`);
    const fill = h(
      "span",
      `nbops-drift-fill ${row.drifted ? "nbops-drift-fill-drifted" : "nbops-drift-fill-stable"}`,
    );
    fill.style.width = `${width.toFixed(1)}%`;
    track.appendChild(fill);
    cell.appendChild(track);
  }
  cell.appendChild(h("span", `nbops-drift-status nbops-drift-status-${state.replace(" ", "-")}`, state));
  return cell;
}

function renderRow(row, scale) {
  const tr = h("tr", "nbops-drift-row");
  tr.dataset.feature = row.feature;
  if (row.drifted) tr.classList.add("nbops-drift-drifted");
  if (row.schema_violation) tr.classList.add("nbops-drift-schema");

  const feature = h("th", "nbops-drift-feature", row.feature);
  feature.scope = "row";
  const counts = [`reference ${formatCount(row.n_reference)}`, `current ${formatCount(row.n_current)}`];
  if (isNumber(row.missing_current) && row.missing_current > 0)
    counts.push(`missing in current ${formatCount(row.missing_current)}`);
  feature.title = counts.join(" · ");
  tr.appendChild(feature);
  tr.appendChild(h("td", "nbops-drift-kind", row.kind));
  const statistic = h("td", "nbops-widget-number nbops-drift-statistic", formatNumber(row.statistic));
  statistic.title = statisticName(row);
  tr.appendChild(statistic);
  tr.appendChild(h("td", "nbops-widget-number nbops-drift-pvalue", formatPValue(row.p_value)));
  tr.appendChild(h("td", "nbops-widget-number nbops-drift-psi", formatNumber(row.psi)));
  tr.appendChild(h("td", "nbops-widget-number nbops-drift-shift", shiftText(row)));
  tr.appendChild(driftCell(row, scale));
  const note = h("td", "nbops-drift-note", row.note || "");
  if (row.note && row.schema_violation) note.classList.add("nbops-drift-note-schema");
  tr.appendChild(note);
  return tr;
}

function renderWidget(model, view) {
  const root = h("div", "nbops-widget nbops-drift");
  const rows = model.get("rows");
  if (model.get("title"))
    root.appendChild(h("div", "nbops-widget-title nbops-drift-title", model.get("title")));
  const line = h("div", "nbops-drift-summary", summary(rows));
  line.setAttribute("role", "status");
  root.appendChild(line);
  if (!rows.length) return root;

  const scale = Math.max(PSI_SCALE_MIN, ...rows.map((r) => r.psi).filter(isNumber));
  const scroller = h("div", "nbops-widget-scroll nbops-drift-scroll");
  const table = h("table", "nbops-widget-table nbops-drift-table");
  table.setAttribute("aria-label", model.get("title") || "Drift per feature");
  const head = table.createTHead().insertRow();
  for (const column of COLUMNS) head.appendChild(headerCell(view, column));
  const body = table.createTBody();
  for (const row of sortRows(rows, view.sort)) body.appendChild(renderRow(row, scale));
  scroller.appendChild(table);
  root.appendChild(scroller);
  return root;
}

export default {
  render({ model, el }) {
    const view = {
      // Python sends the rows drifted first: the "Drift" column, descending.
      sort: { key: "drift", direction: "descending" },
      paint(focusKey) {
        el.replaceChildren(renderWidget(model, view));
        if (focusKey) {
          const target = [...el.querySelectorAll(".nbops-drift-sort")].find(
            (b) => b.dataset.key === focusKey,
          );
          if (target) target.focus();
        }
      },
      sortBy(column) {
        const again = view.sort.key === column.key;
        const flipped = view.sort.direction === "ascending" ? "descending" : "ascending";
        view.sort = { key: column.key, direction: again ? flipped : column.first };
        view.paint(column.key); // the header's button is new: keep the keyboard on it
      },
    };
    const draw = () => {
      const active = document.activeElement;
      view.paint(el.contains(active) && active.dataset ? active.dataset.key : undefined);
    };
    view.paint();
    return watch(model, ["rows", "title"], draw);
  },
};
