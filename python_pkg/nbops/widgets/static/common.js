// What every nbops widget view shares: DOM builders, status badges, the formats of
// durations, values and numbers, and redrawing on trait changes.
//
// anywidget loads a widget's front end as one module, and nbops has no bundler: Python
// (nbops/widgets/common.py) puts this file in place of each view's
// `import { ... } from "./common.js"` line. The views stay plain ES modules that also
// import this file under node, where tests/test_widget_formats.py checks every format
// here against its Python twin and the cases in tests/data/format_cases.json.
//
// Text is set with textContent only: nothing from the store is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Shown where a value is not known: a missing metric, a running run's duration. */
export const NO_VALUE = "—";

// --- the DOM ---------------------------------------------------------------------------

export function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// A real <button> (focusable; Enter and Space press it) in the widgets' look.
export function button(className, text, onClick) {
  const node = h("button", `nbops-widget-button ${className}`, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

// A run status (FINISHED, FAILED, ...) as a coloured badge; common.css has the colours.
export function statusBadge(status) {
  return h("span", `nbops-badge nbops-badge-${String(status || "").toLowerCase()}`, status);
}

// --- numbers ------------------------------------------------------------------------------
// JavaScript rounds a tie (0.5078125 to 6 digits) away from zero, Python's format() to even:
// the Python twins in nbops/widgets/common.py round as these do, so both print the same.

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function trimZeros(text) {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

// Python's exponent: a sign and at least two digits ("1.23e-05", "4.0e+21").
function withExponent(mantissa, exponent) {
  const digits = String(Math.abs(exponent)).padStart(2, "0");
  return `${mantissa}e${exponent < 0 ? "-" : "+"}${digits}`;
}

// `decimals` digits after the point in scientific notation: exponential(0.000123, 2) is "1.23e-04".
export function exponential(value, decimals) {
  const [mantissa, exponent] = value.toExponential(decimals).split("e");
  return withExponent(mantissa, Number(exponent));
}

// `digits` significant digits, as Python's "%g" writes them: 0.123457, 12.3, 1.23457e+06, 1e-05.
export function significant(value, digits) {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return "0";
  const [mantissa, power] = value.toExponential(digits - 1).split("e");
  const exponent = Number(power);
  if (exponent < -4 || exponent >= digits) return withExponent(trimZeros(mantissa), exponent);
  return trimZeros(value.toFixed(digits - 1 - exponent));
}

// A whole number with thousands separators: 1234.5 is "1,235".
export function grouped(value) {
  const digits = Math.abs(value).toFixed(0);
  const sign = value < 0 && digits !== "0" ? "-" : "";
  return sign + digits.replace(/\B(?=(\d{3})+$)/g, ",");
}

// --- the formats --------------------------------------------------------------------------

// "850 ms", "12.3 s", "4 min 5 s", "2 h 3 min"; each unit is floored, so never "60.0 s".
export function formatDuration(ms) {
  if (!isNumber(ms) || ms < 0) return NO_VALUE;
  if (ms < 1000) return `${Math.floor(ms)} ms`;
  if (ms < 60000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) {
    const minutes = Math.floor(seconds / 60);
    return seconds % 60 ? `${minutes} min ${seconds % 60} s` : `${minutes} min`;
  }
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

// A param or metric: text as it is, whole numbers as they are, others to 6 significant digits.
export function formatValue(value) {
  if (value === null || value === undefined) return NO_VALUE;
  if (typeof value === "number") {
    if (Number.isSafeInteger(value)) return String(value);
    return significant(value, 6);
  }
  return String(value);
}

// Statistics, compactly: 0.1235, 12.35, 1,235, 1.23e-05; "—" for none.
export function formatNumber(value) {
  if (!isNumber(value)) return NO_VALUE;
  if (value === 0) return "0";
  if (Math.abs(value) >= 1000) return grouped(value);
  if (Math.abs(value) < 1e-3) return exponential(value, 2);
  return significant(value, 4);
}

// p-values: 0.042; scientific below 1e-3 (1.2e-05).
export function formatPValue(value) {
  if (!isNumber(value)) return NO_VALUE;
  if (value === 0) return "0";
  if (value < 1e-3) return exponential(value, 1);
  return significant(value, 3);
}

// A share as a percentage with one decimal: 0.125 is "12.5%".
export function formatShare(value) {
  return isNumber(value) ? `${(value * 100).toFixed(1)}%` : NO_VALUE;
}

export function formatCount(value) {
  return isNumber(value) ? grouped(value) : NO_VALUE;
}

// Local time, to the second unless `seconds` is false: runs compared side by side often
// start in the same minute.
export function formatTime(epochMs, seconds = true) {
  if (!epochMs) return NO_VALUE;
  const d = new Date(epochMs);
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${day} ${time}:${pad(d.getSeconds())}` : `${day} ${time}`;
}

// --- redrawing ----------------------------------------------------------------------------

// Python updates several traits at once: `batched(paint)` paints once per batch, not per trait.
export function batched(paint) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      paint();
    });
  };
}

// Call `onChange` whenever one of `traits` changes; the function returned stops it (the
// clean-up a view's render returns).
export function watch(model, traits, onChange) {
  for (const name of traits) model.on(`change:${name}`, onChange);
  return () => {
    for (const name of traits) model.off(`change:${name}`, onChange);
  };
}
