// MetricChart view: the `series` trait (nbops.monitoring.series: metric → points
// {step, timestamp, value}) as a plain SVG line chart, with dashed `thresholds`.
// A tooltip shows a point's step, local time and value on hover or keyboard focus:
// one point of the chart is in the tab order, the arrow keys move between points
// (Left/Right along a line, Up/Down across lines), Home/End jump, Escape hides it.
// Text is set with textContent only: nothing from the data is parsed as HTML.

import { batched, formatNumber, formatTime, h, svg, watch } from "./common.js";

const WIDTH = 640;
const HEIGHT = 260;
const MARGIN = { left: 56, right: 16, top: 14, bottom: 36 };
const PAD = 8; // between the plot's edge and the first and last step
const COLORS = [
  "var(--jp-brand-color1, #1976d2)",
  "var(--jp-warn-color1, #f57c00)",
  "var(--jp-error-color1, #d32f2f)",
  "var(--jp-success-color1, #388e3c)",
  "var(--jp-info-color1, #0097a7)",
  "var(--jp-brand-color3, #90caf9)",
];
const EMPTY = "No monitoring batches yet — log one with nbops.monitor.log_batch(...)";

// --- scales (as nbops.widgets.metric_chart.y_ticks and x_ticks) -------------------------

function niceSteps(raw) {
  const exponent = Math.floor(Math.log10(raw));
  const steps = [];
  for (let e = exponent; e < exponent + 3; e++)
    for (const m of [1, 2, 2.5, 5]) if (m * 10 ** e >= raw * (1 - 1e-9)) steps.push(m * 10 ** e);
  return steps;
}

// Four or five gridlines a nice step apart, covering [low, high]: of the nice steps that cover
// the range in 3 or 4 intervals, the tightest fit wins.
function yTicks(low, high) {
  if (high === low) {
    const pad = Math.abs(low) * 0.1 || 1;
    low -= pad;
    high += pad;
  }
  let best = null;
  for (const step of niceSteps((high - low) / 4)) {
    const start = Math.floor(low / step + 1e-9) * step;
    for (const intervals of [4, 3]) {
      const span = intervals * step;
      const fits = start + span >= high - 1e-9 * step;
      if (fits && (!best || span < best.span || (span === best.span && intervals > best.intervals)))
        best = { span, intervals, start, step };
    }
  }
  const ticks = [];
  for (let i = 0; i <= best.intervals; i++) ticks.push(Number((best.start + i * best.step).toPrecision(10)));
  return ticks;
}

function xTicks(first, last, most = 8) {
  if (last <= first) return [first];
  const step = niceSteps(Math.max((last - first) / (most - 1), 1)).find((s) => Number.isInteger(s));
  const ticks = [];
  for (let t = Math.ceil(first / step) * step; t <= last; t += step) ticks.push(t);
  return ticks;
}

// --- the chart -----------------------------------------------------------------------

function layout(series, thresholds) {
  const metrics = Object.keys(series).map((name, i) => ({
    name,
    points: series[name] || [],
    color: COLORS[i % COLORS.length],
  }));
  const all = metrics.flatMap((m) => m.points);
  const values = all.map((p) => p.value).concat(Object.values(thresholds));
  const steps = all.map((p) => p.step);
  const first = Math.min(...steps);
  const last = Math.max(...steps);
  const ticks = yTicks(Math.min(...values), Math.max(...values));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (step) =>
    MARGIN.left + (last === first ? plotW / 2 : PAD + ((step - first) * (plotW - 2 * PAD)) / (last - first));
  const y = (value) =>
    MARGIN.top + plotH - ((value - ticks[0]) * plotH) / (ticks[ticks.length - 1] - ticks[0]);
  return { metrics, first, last, ticks, x, y, plotW, plotH };
}

function renderSvg(chart, thresholds, label) {
  const { metrics, first, last, ticks, x, y, plotW } = chart;
  const root = svg("svg", {
    class: "nbops-chart-svg",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "group",
    "aria-label": label,
  });
  const grid = svg("g", { class: "nbops-chart-grid", "aria-hidden": "true" });
  for (const tick of ticks) {
    grid.appendChild(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick) }));
    grid.appendChild(
      svg("text", { class: "nbops-chart-ytick", x: MARGIN.left - 6, y: y(tick) + 4 }, formatNumber(tick)),
    );
  }
  for (const step of xTicks(first, last)) {
    grid.appendChild(
      svg("text", { class: "nbops-chart-xtick", x: x(step), y: HEIGHT - MARGIN.bottom + 16 }, step),
    );
  }
  grid.appendChild(
    svg(
      "text",
      { class: "nbops-chart-axis-label", x: MARGIN.left + plotW / 2, y: HEIGHT - 4 },
      "batch (step)",
    ),
  );
  root.appendChild(grid);

  const colors = Object.fromEntries(metrics.map((m) => [m.name, m.color]));
  for (const [name, value] of Object.entries(thresholds)) {
    const color = colors[name] || COLORS[1];
    const line = svg("line", {
      class: "nbops-chart-threshold",
      x1: MARGIN.left,
      x2: WIDTH - MARGIN.right,
      y1: y(value),
      y2: y(value),
      "stroke-dasharray": "6 4",
      style: `stroke: ${color}`,
      "data-metric": name,
    });
    line.appendChild(svg("title", {}, `${name} threshold ${formatNumber(value)}`));
    root.appendChild(line);
    const text =
      metrics.length > 1 ? `${name} threshold ${formatNumber(value)}` : `threshold ${formatNumber(value)}`;
    root.appendChild(
      svg(
        "text",
        {
          class: "nbops-chart-threshold-label",
          x: WIDTH - MARGIN.right - 4,
          y: y(value) - 4,
          style: `fill: ${color}`,
        },
        text,
      ),
    );
  }

  for (const metric of metrics) {
    if (!metric.points.length) continue;
    const d = metric.points.map((p, i) => `${i ? "L" : "M"}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`);
    root.appendChild(
      svg("path", {
        class: "nbops-chart-line",
        d: d.join(" "),
        style: `stroke: ${metric.color}`,
        "data-metric": metric.name,
        "aria-hidden": "true",
      }),
    );
  }
  metrics.forEach((metric, m) => {
    const group = svg("g", { class: "nbops-chart-points", "data-metric": metric.name });
    metric.points.forEach((p, i) => {
      group.appendChild(
        svg("circle", {
          class: "nbops-chart-point",
          cx: x(p.step),
          cy: y(p.value),
          r: 4,
          style: `fill: ${metric.color}`,
          tabindex: -1,
          role: "img",
          "aria-label": `${metric.name}, step ${p.step}, ${formatTime(p.timestamp)}: ${formatNumber(p.value)}`,
          "data-metric": metric.name,
          "data-m": m,
          "data-i": i,
        }),
      );
    });
    root.appendChild(group);
  });
  return root;
}

function renderLegend(chart, thresholds) {
  const legend = h("ul", "nbops-chart-legend");
  legend.setAttribute("aria-label", "Metrics");
  for (const metric of chart.metrics) {
    const item = h("li", "nbops-chart-legend-item");
    item.dataset.metric = metric.name;
    const swatch = h("span", "nbops-chart-swatch");
    swatch.style.background = metric.color;
    swatch.setAttribute("aria-hidden", "true");
    item.appendChild(swatch);
    item.appendChild(h("span", "nbops-chart-legend-name", metric.name));
    const last = metric.points[metric.points.length - 1];
    const facts = last ? `last ${formatNumber(last.value)} at step ${last.step}` : "no points";
    item.appendChild(h("span", "nbops-chart-legend-last", facts));
    if (metric.name in thresholds)
      item.appendChild(
        h("span", "nbops-chart-legend-threshold", `threshold ${formatNumber(thresholds[metric.name])}`),
      );
    legend.appendChild(item);
  }
  return legend;
}

function fillTooltip(tooltip, metric, point, threshold) {
  const head = h("div", "nbops-chart-tooltip-metric");
  const swatch = h("span", "nbops-chart-swatch");
  swatch.style.background = metric.color;
  head.appendChild(swatch);
  head.appendChild(document.createTextNode(metric.name));
  const rows = [
    ["step", String(point.step)],
    ["time", formatTime(point.timestamp)],
    ["value", formatNumber(point.value)],
  ];
  if (threshold !== undefined)
    rows.push(["threshold", `${formatNumber(threshold)}${point.value > threshold ? " (above)" : ""}`]);
  const table = h("table", "nbops-chart-tooltip-table");
  for (const [key, value] of rows) {
    const row = table.insertRow();
    row.className = `nbops-chart-tooltip-${key}`;
    row.appendChild(h("th", "", key));
    row.appendChild(h("td", "", value));
  }
  tooltip.replaceChildren(head, table);
}

function renderWidget(model, view) {
  const root = h("div", "nbops-widget nbops-chart");
  const series = model.get("series") || {};
  const thresholds = model.get("thresholds") || {};
  const title = model.get("title");
  if (title) root.appendChild(h("div", "nbops-widget-title nbops-chart-title", title));
  const names = Object.keys(series);
  if (!names.some((name) => (series[name] || []).length)) {
    root.appendChild(h("div", "nbops-chart-empty", EMPTY));
    return root;
  }
  const chart = layout(series, thresholds);
  const plot = h("div", "nbops-chart-plot");
  const label = `${title ? `${title}: ` : ""}${names.join(", ")} by batch. Arrow keys move between points.`;
  const figure = renderSvg(chart, thresholds, label);
  plot.appendChild(figure);
  const tooltip = h("div", "nbops-chart-tooltip");
  tooltip.id = `${view.id}-tooltip`;
  tooltip.setAttribute("role", "tooltip");
  tooltip.hidden = true;
  plot.appendChild(tooltip);
  root.appendChild(plot);
  root.appendChild(renderLegend(chart, thresholds));

  const pointAt = (m, i) => figure.querySelector(`.nbops-chart-point[data-m="${m}"][data-i="${i}"]`);
  const show = (circle) => {
    const m = Number(circle.dataset.m);
    const i = Number(circle.dataset.i);
    const metric = chart.metrics[m];
    fillTooltip(tooltip, metric, metric.points[i], thresholds[metric.name]);
    for (const other of figure.querySelectorAll(".nbops-chart-point-active"))
      other.classList.remove("nbops-chart-point-active");
    circle.classList.add("nbops-chart-point-active");
    tooltip.hidden = false;
    const box = plot.getBoundingClientRect();
    const dot = circle.getBoundingClientRect();
    const cx = dot.left - box.left + dot.width / 2;
    const cy = dot.top - box.top + dot.height / 2;
    const left = cx + 12 + tooltip.offsetWidth > box.width ? cx - 12 - tooltip.offsetWidth : cx + 12;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${Math.max(0, cy - tooltip.offsetHeight - 8)}px`;
  };
  const hide = () => {
    tooltip.hidden = true;
    for (const other of figure.querySelectorAll(".nbops-chart-point-active"))
      other.classList.remove("nbops-chart-point-active");
  };
  // Roving tab stop: the chart is one stop in the tab order, on the point last visited.
  const focusPoint = (circle) => {
    for (const other of figure.querySelectorAll('.nbops-chart-point[tabindex="0"]'))
      other.setAttribute("tabindex", "-1");
    circle.setAttribute("tabindex", "0");
    view.current = {
      metric: circle.dataset.metric,
      step: chart.metrics[circle.dataset.m].points[circle.dataset.i].step,
    };
    circle.focus();
  };
  const stop =
    (view.current && findPoint(chart, view.current.metric, view.current.step)) || defaultPoint(chart);
  const start = pointAt(stop.m, stop.i);
  if (start) start.setAttribute("tabindex", "0");

  figure.addEventListener("pointerover", (event) => {
    if (event.target.classList.contains("nbops-chart-point")) show(event.target);
  });
  figure.addEventListener("pointerout", (event) => {
    if (event.target.classList.contains("nbops-chart-point") && document.activeElement !== event.target)
      hide();
  });
  figure.addEventListener("focusin", (event) => {
    if (event.target.classList.contains("nbops-chart-point")) show(event.target);
  });
  figure.addEventListener("focusout", hide);
  figure.addEventListener("keydown", (event) => {
    const circle = event.target;
    if (!circle.classList || !circle.classList.contains("nbops-chart-point")) return;
    const m = Number(circle.dataset.m);
    const i = Number(circle.dataset.i);
    const points = chart.metrics[m].points;
    let next = null;
    if (event.key === "ArrowRight") next = pointAt(m, Math.min(i + 1, points.length - 1));
    else if (event.key === "ArrowLeft") next = pointAt(m, Math.max(i - 1, 0));
    else if (event.key === "Home") next = pointAt(m, 0);
    else if (event.key === "End") next = pointAt(m, points.length - 1);
    else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      const other = nextMetric(chart, m, event.key === "ArrowDown" ? 1 : -1);
      if (other !== null) next = pointAt(other, nearest(chart.metrics[other].points, points[i].step));
    } else if (event.key === "Escape") {
      hide();
      event.preventDefault();
      event.stopPropagation(); // JupyterLab would leave the cell
      return;
    } else return;
    event.preventDefault();
    event.stopPropagation();
    if (next) focusPoint(next);
  });
  return root;
}

function findPoint(chart, name, step) {
  const m = chart.metrics.findIndex((metric) => metric.name === name);
  if (m < 0) return null;
  const i = chart.metrics[m].points.findIndex((p) => p.step === step);
  return i < 0 ? null : { m, i };
}

// The tab stop starts on the newest point of the first metric that has points.
function defaultPoint(chart) {
  const m = chart.metrics.findIndex((metric) => metric.points.length);
  return { m, i: chart.metrics[m].points.length - 1 };
}

// The next metric (down: +1, up: -1) that has points, or null.
function nextMetric(chart, m, direction) {
  for (let k = m + direction; k >= 0 && k < chart.metrics.length; k += direction)
    if (chart.metrics[k].points.length) return k;
  return null;
}

function nearest(points, step) {
  let best = 0;
  points.forEach((p, i) => {
    if (Math.abs(p.step - step) < Math.abs(points[best].step - step)) best = i;
  });
  return best;
}

let views = 0;

export default {
  render({ model, el }) {
    // `current`: the point that holds the tab stop (metric and step), kept across repaints.
    const view = { id: `nbops-chart-${++views}`, current: null };
    const paint = () => {
      const focused =
        el.contains(document.activeElement) && document.activeElement.classList.contains("nbops-chart-point");
      el.replaceChildren(renderWidget(model, view));
      if (focused) {
        const stop = el.querySelector('.nbops-chart-point[tabindex="0"]');
        if (stop) stop.focus();
      }
    };
    paint();
    return watch(model, ["series", "title", "thresholds"], batched(paint));
  },
};
