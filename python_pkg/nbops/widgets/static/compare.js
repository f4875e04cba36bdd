// CompareWidget view. The kernel owns the data: sorting and paging are requests
// to Python (model.send), which asks the MLflow store and updates the traits.
// The browser only renders, keeps the ticked runs and the chart's metric.
// Values are set with textContent only: nothing from the store is parsed as HTML.

import {
  batched,
  button,
  formatCount,
  formatDuration,
  formatTime,
  formatValue,
  h,
  statusBadge,
  svg,
  watch,
} from "./common.js";

// --- the table -----------------------------------------------------------------

function headerCell(model, title, key) {
  const th = h("th", "nbops-compare-th");
  th.appendChild(h("span", "nbops-compare-th-label", title));
  if (!key) return th; // e.g. duration: the store cannot order by it
  th.dataset.key = key;
  th.classList.add("nbops-compare-sortable");
  th.title = `Sort all runs by ${title} (in the store)`;
  if (model.get("sort_key") === key) {
    th.classList.add("nbops-compare-sorted");
    th.appendChild(h("span", "nbops-compare-arrow", model.get("sort_descending") ? " ▼" : " ▲"));
  }
  th.addEventListener("click", () => {
    th.classList.add("nbops-compare-pending");
    model.send({ type: "sort", key });
  });
  return th;
}

function renderTable(model) {
  const runs = model.get("runs");
  const params = model.get("param_keys");
  const metrics = model.get("metric_keys");
  const differing = new Set(model.get("differing"));
  const selected = new Set(model.get("selected"));

  const table = h("table", "nbops-widget-table nbops-compare-table");
  const head = table.createTHead();
  const groups = head.insertRow();
  groups.className = "nbops-compare-groups";
  groups.appendChild(h("th", "", "")).colSpan = 5;
  if (params.length) groups.appendChild(h("th", "nbops-compare-group", "Params")).colSpan = params.length;
  if (metrics.length) groups.appendChild(h("th", "nbops-compare-group", "Metrics")).colSpan = metrics.length;

  const titles = head.insertRow();
  titles.className = "nbops-compare-titles";
  titles.appendChild(h("th", "nbops-compare-check"));
  titles.appendChild(headerCell(model, "Run", "attributes.run_name"));
  titles.appendChild(headerCell(model, "Status", "attributes.status"));
  titles.appendChild(headerCell(model, "Start", "attributes.start_time"));
  titles.appendChild(headerCell(model, "Duration", null));
  for (const key of params) titles.appendChild(headerCell(model, key, `params.${key}`));
  for (const key of metrics) titles.appendChild(headerCell(model, key, `metrics.${key}`));

  const body = table.createTBody();
  for (const run of runs) {
    const row = body.insertRow();
    row.className = "nbops-compare-row";
    row.dataset.runId = run.run_id;
    if (selected.has(run.run_id)) row.classList.add("nbops-compare-selected");

    const check = h("input", "nbops-compare-checkbox");
    check.type = "checkbox";
    check.checked = selected.has(run.run_id);
    check.title = "Show this run in the chart";
    check.addEventListener("change", () => {
      const now = new Set(model.get("selected"));
      if (check.checked) now.add(run.run_id);
      else now.delete(run.run_id);
      model.set(
        "selected",
        runs.map((r) => r.run_id).filter((id) => now.has(id)),
      );
      model.save_changes();
    });
    row.insertCell().appendChild(check);

    const name = row.insertCell();
    name.className = "nbops-compare-name";
    name.textContent = run.run_name || run.run_id;
    name.title = run.error ? `${run.run_id}\n${run.error}` : run.run_id;
    row.insertCell().appendChild(statusBadge(run.status));
    row.insertCell().textContent = formatTime(run.start_time);
    row.insertCell().textContent = formatDuration(run.duration_ms);

    const valueCell = (kind, key) => {
      const cell = row.insertCell();
      const value = run[kind][key];
      cell.className = `nbops-compare-value nbops-compare-${kind}`;
      cell.dataset.key = `${kind}.${key}`;
      cell.textContent = formatValue(value);
      if (value === undefined) cell.classList.add("nbops-compare-missing");
      if (differing.has(`${kind}.${key}`)) cell.classList.add("nbops-compare-differs");
    };
    for (const key of params) valueCell("params", key);
    for (const key of metrics) valueCell("metrics", key);
  }
  return table;
}

// --- the chart -----------------------------------------------------------------

function renderChart(model) {
  const metrics = model.get("metric_keys");
  const box = h("div", "nbops-compare-chart");
  if (!metrics.length) return box;

  const controls = h("label", "nbops-compare-chart-controls", "Chart ");
  const select = h("select", "nbops-compare-metric");
  for (const key of metrics) select.appendChild(h("option", "", key)).value = key;
  const metric = metrics.includes(model.get("chart_metric")) ? model.get("chart_metric") : metrics[0];
  select.value = metric;
  select.addEventListener("change", () => {
    model.set("chart_metric", select.value);
    model.save_changes();
  });
  controls.appendChild(select);
  const selected = new Set(model.get("selected"));
  const pool = model.get("runs").filter((r) => selected.size === 0 || selected.has(r.run_id));
  controls.appendChild(
    h(
      "span",
      "nbops-compare-chart-scope",
      selected.size
        ? ` for ${pool.length} selected run${pool.length === 1 ? "" : "s"}`
        : " for all loaded runs",
    ),
  );
  box.appendChild(controls);

  const bars = pool.filter((r) => typeof r.metrics[metric] === "number");
  if (!bars.length) {
    box.appendChild(h("div", "nbops-compare-note", `No run here has ${metric}.`));
    return box;
  }
  const labelWidth = 160;
  const barArea = 360;
  const valueWidth = 80;
  const rowHeight = 20;
  const values = bars.map((r) => r.metrics[metric]);
  const low = Math.min(0, ...values);
  const high = Math.max(0, ...values);
  const scale = high === low ? 0 : barArea / (high - low);
  const zero = labelWidth + (0 - low) * scale;
  const width = labelWidth + barArea + valueWidth;
  const height = bars.length * rowHeight + 8;
  const chart = svg("svg", {
    class: "nbops-compare-svg",
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": `${metric} per run`,
  });
  bars.forEach((run, i) => {
    const value = run.metrics[metric];
    const y = 4 + i * rowHeight;
    const name = run.run_name || run.run_id;
    const label = svg(
      "text",
      { class: "nbops-compare-svg-label", x: labelWidth - 6, y: y + 13 },
      name.length > 22 ? `${name.slice(0, 21)}…` : name,
    );
    label.appendChild(svg("title", {}, name));
    chart.appendChild(label);
    const x = value >= 0 ? zero : zero + value * scale;
    const bar = svg("rect", {
      class: "nbops-compare-svg-bar",
      x,
      y: y + 2,
      width: Math.max(Math.abs(value * scale), 1),
      height: rowHeight - 6,
    });
    bar.appendChild(svg("title", {}, `${name}: ${formatValue(value)}`));
    chart.appendChild(bar);
    chart.appendChild(
      svg(
        "text",
        { class: "nbops-compare-svg-value", x: labelWidth + barArea + 6, y: y + 13 },
        formatValue(value),
      ),
    );
  });
  chart.appendChild(svg("line", { class: "nbops-compare-svg-axis", x1: zero, x2: zero, y1: 0, y2: height }));
  box.appendChild(chart);
  return box;
}

// --- the whole widget --------------------------------------------------------------

function renderWidget(model) {
  const root = h("div", "nbops-widget nbops-compare");
  const runs = model.get("runs");

  const bar = h("div", "nbops-widget-bar nbops-compare-bar");
  const total = model.get("total");
  const counted = total === null || total === undefined ? "…" : formatCount(total); // "…": still counting
  bar.appendChild(h("span", "nbops-compare-count", `${formatCount(runs.length)} of ${counted} runs`));
  if (model.get("has_more")) {
    const more = button("nbops-compare-more", "Load more", () => {
      more.disabled = true;
      more.textContent = "Loading…";
      model.send({ type: "load_more" });
    });
    bar.appendChild(more);
  }
  root.appendChild(bar);

  if (model.get("error"))
    root.appendChild(h("div", "nbops-widget-error nbops-compare-error", model.get("error")));
  if (!runs.length) {
    if (!model.get("error"))
      root.appendChild(
        h("div", "nbops-compare-note", "No runs match. Track one with %%track or nbops.track()."),
      );
    return root;
  }
  const scroller = h("div", "nbops-widget-scroll nbops-compare-scroll");
  scroller.appendChild(renderTable(model));
  root.appendChild(scroller);
  root.appendChild(renderChart(model));
  return root;
}

const TRAITS = [
  "runs",
  "param_keys",
  "metric_keys",
  "differing",
  "sort_key",
  "sort_descending",
  "total",
  "has_more",
  "selected",
  "chart_metric",
  "error",
];

export default {
  render({ model, el }) {
    const paint = () => {
      const scroller = el.querySelector(".nbops-compare-scroll");
      const left = scroller ? scroller.scrollLeft : 0; // keep wide tables where the user scrolled
      el.replaceChildren(renderWidget(model));
      const fresh = el.querySelector(".nbops-compare-scroll");
      if (fresh) fresh.scrollLeft = left;
    };
    const draw = batched(paint);
    // Python answers every request with {type: "done"}: repaint even if no trait changed,
    // so a header or button never stays "pending".
    const onMessage = (msg) => {
      if (msg && msg.type === "done") draw();
    };
    paint();
    const unwatch = watch(model, TRAITS, draw);
    model.on("msg:custom", onMessage);
    return () => {
      unwatch();
      model.off("msg:custom", onMessage);
    };
  },
};
