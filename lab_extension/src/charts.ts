/**
 * Vega-Lite specifications of the monitoring charts, and a Vega config made of
 * the JupyterLab theme's colours and fonts. Pure functions: rendering (and the
 * lazy import of vega-embed) lives in `chart.tsx`.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import type { IAlert, IMonitoringSeries, IPoint } from './api';

/**
 * The metrics the sidebar asks the server for, as names and shell patterns.
 */
export const MONITORING_METRICS = [
  'drift.share',
  'drift.*.psi',
  'drift.*.drifted',
  'performance.*',
  'latency.p50_ms',
  'latency.p95_ms',
  'latency.p99_ms',
  'fairness.demographic_parity_difference',
  'fairness.equal_opportunity_difference'
];

/**
 * More features than this are drawn as a heatmap rather than lines.
 */
export const MAX_DRIFT_LINES = 8;

/**
 * Charts are this tall (plot area, pixels).
 */
export const CHART_HEIGHT = 110;

/**
 * The kinds of chart the version detail shows, in order.
 */
export type ChartKind = 'drift' | 'performance' | 'latency' | 'fairness';

export const CHART_KINDS: ChartKind[] = [
  'drift',
  'performance',
  'latency',
  'fairness'
];

/**
 * One point of a line: which line, which batch, and its value.
 */
export interface ILinePoint {
  series: string;
  batch: number;
  time: string;
  value: number;
}

/**
 * One feature's drift in one batch.
 */
export interface IDriftPoint {
  feature: string;
  batch: number;
  time: string;
  psi: number;
  drifted: boolean;
}

/**
 * A threshold line (from an alert rule on the charted metric).
 */
export interface IThreshold {
  series: string;
  value: number;
  label: string;
}

/**
 * The words a chart shows besides the data.
 */
export interface IChartLabels {
  batch: string;
  time: string;
  metric: string;
  feature: string;
  drifted: string;
  psi: string;
  rule: string;
}

/**
 * The data behind one chart; `empty` when there is nothing to draw.
 */
export interface IChartData {
  kind: ChartKind;
  title: string;
  /** Axis, legend and tooltip titles, translated. */
  labels: IChartLabels;
  /** What the y axis measures. */
  unit: string;
  lines: ILinePoint[];
  drift: IDriftPoint[];
  thresholds: IThreshold[];
  /** The last batch's values, as text (also read by screen readers). */
  summary: string;
  empty: boolean;
}

const PERFORMANCE_ORDER = [
  'accuracy',
  'f1',
  'roc_auc',
  'precision',
  'recall',
  'rmse',
  'mae',
  'r2'
];

type LineKind = Exclude<ChartKind, 'drift'>;

/**
 * The title, unit and series (metric → line label) of each line chart.
 */
function lineMetrics(trans: TranslationBundle): {
  [kind in LineKind]: {
    title: string;
    unit: string;
    pick: (metric: string) => string | null;
  };
} {
  return {
    performance: {
      title: trans.__('Performance'),
      unit: trans.__('score'),
      pick: metric => {
        const match = /^performance\.([^.]+)$/.exec(metric);
        return match ? match[1] : null;
      }
    },
    latency: {
      title: trans.__('Latency'),
      unit: trans.__('ms'),
      pick: metric => {
        const match = /^latency\.(p\d+)_ms$/.exec(metric);
        return match ? match[1] : null;
      }
    },
    fairness: {
      title: trans.__('Fairness gap'),
      unit: trans.__('difference'),
      pick: metric => {
        if (metric === 'fairness.demographic_parity_difference') {
          return trans.__('demographic parity');
        }
        if (metric === 'fairness.equal_opportunity_difference') {
          return trans.__('equal opportunity');
        }
        return null;
      }
    }
  };
}

function chartLabels(trans: TranslationBundle): IChartLabels {
  return {
    batch: trans.__('batch'),
    time: trans.__('time'),
    metric: trans.__('metric'),
    feature: trans.__('feature'),
    drifted: trans.__('drifted'),
    psi: trans.__('PSI'),
    rule: trans.__('alert rule')
  };
}

/**
 * Whether any metric of the series has a batch.
 */
export function hasBatches(series: IMonitoringSeries | null): boolean {
  return (
    series !== null &&
    Object.values(series).some(points => (points ?? []).length > 0)
  );
}

/**
 * The number of the latest batch, or null.
 */
export function lastBatch(series: IMonitoringSeries | null): number | null {
  let last: number | null = null;
  for (const points of Object.values(series ?? {})) {
    for (const point of points ?? []) {
      if (last === null || point.step > last) {
        last = point.step;
      }
    }
  }
  return last;
}

/**
 * The data of every chart, from the monitoring series and the alerts of the
 * version (their rules' thresholds are drawn on the charts of their metric).
 */
export function chartData(
  series: IMonitoringSeries,
  alerts: IAlert[],
  trans: TranslationBundle,
  formatValue: (value: number) => string = String
): IChartData[] {
  const labels = chartLabels(trans);
  const lines = lineMetrics(trans);
  return CHART_KINDS.map(kind =>
    kind === 'drift'
      ? driftData(series, labels, trans, formatValue)
      : lineData(kind, lines[kind], series, alerts, labels, trans, formatValue)
  );
}

function isoTime(point: IPoint): string {
  const date = new Date(point.timestamp);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

function driftData(
  series: IMonitoringSeries,
  labels: IChartLabels,
  trans: TranslationBundle,
  formatValue: (value: number) => string
): IChartData {
  const drifted = new Map<string, boolean>();
  for (const [metric, points] of Object.entries(series)) {
    const match = /^drift\.(.+)\.drifted$/.exec(metric);
    if (match) {
      for (const point of points ?? []) {
        drifted.set(`${match[1]}\u0000${point.step}`, point.value >= 0.5);
      }
    }
  }
  const rows: IDriftPoint[] = [];
  for (const [metric, points] of Object.entries(series)) {
    const match = /^drift\.(.+)\.psi$/.exec(metric);
    if (!match) {
      continue;
    }
    for (const point of points ?? []) {
      if (Number.isFinite(point.value)) {
        rows.push({
          feature: match[1],
          batch: point.step,
          time: isoTime(point),
          psi: point.value,
          drifted: drifted.get(`${match[1]}\u0000${point.step}`) ?? false
        });
      }
    }
  }
  rows.sort((a, b) =>
    a.feature === b.feature ? a.batch - b.batch : a.feature < b.feature ? -1 : 1
  );
  const last = rows.reduce((max, row) => Math.max(max, row.batch), -Infinity);
  const latest = rows.filter(row => row.batch === last);
  const driftedNow = latest.filter(row => row.drifted).map(row => row.feature);
  let summary = '';
  if (latest.length) {
    const top = latest.reduce((a, b) => (b.psi > a.psi ? b : a));
    summary = driftedNow.length
      ? trans.__(
          'Batch %1: %2 of %3 features drifted (%4); highest PSI %5 (%6).',
          last,
          driftedNow.length,
          latest.length,
          driftedNow.join(', '),
          formatValue(top.psi),
          top.feature
        )
      : trans.__(
          'Batch %1: no feature drifted; highest PSI %2 (%3).',
          last,
          formatValue(top.psi),
          top.feature
        );
  }
  return {
    kind: 'drift',
    title: trans.__('Drift per feature (PSI)'),
    labels,
    unit: labels.psi,
    lines: [],
    drift: rows,
    thresholds: [],
    summary,
    empty: rows.length === 0
  };
}

function lineData(
  kind: LineKind,
  metricsOf: {
    title: string;
    unit: string;
    pick: (m: string) => string | null;
  },
  series: IMonitoringSeries,
  alerts: IAlert[],
  axisLabels: IChartLabels,
  trans: TranslationBundle,
  formatValue: (value: number) => string
): IChartData {
  const { title, unit, pick } = metricsOf;
  const labels = new Map<string, string>();
  for (const metric of Object.keys(series)) {
    const label = pick(metric);
    if (label !== null) {
      labels.set(metric, label);
    }
  }
  const metrics = [...labels.keys()].sort((a, b) => {
    const order = (m: string) => {
      const at = PERFORMANCE_ORDER.indexOf(labels.get(m) ?? '');
      return at < 0 ? PERFORMANCE_ORDER.length : at;
    };
    return order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0);
  });
  const lines: ILinePoint[] = [];
  for (const metric of metrics) {
    for (const point of series[metric] ?? []) {
      if (Number.isFinite(point.value)) {
        lines.push({
          series: labels.get(metric) ?? metric,
          batch: point.step,
          time: isoTime(point),
          value: point.value
        });
      }
    }
  }
  const thresholds: IThreshold[] = [];
  const seen = new Set<string>();
  for (const alert of alerts) {
    const label = labels.get(alert.metric);
    const value = Number(alert.threshold);
    const key = `${alert.metric} ${alert.op} ${value}`;
    if (label !== undefined && Number.isFinite(value) && !seen.has(key)) {
      seen.add(key);
      thresholds.push({
        series: label,
        value,
        label: `${alert.rule}: ${label} ${alert.op} ${formatValue(value)}`
      });
    }
  }
  const last = lines.reduce((max, row) => Math.max(max, row.batch), -Infinity);
  const latest = lines.filter(row => row.batch === last);
  const summary = latest.length
    ? trans.__(
        'Batch %1: %2.',
        last,
        latest.map(row => `${row.series} ${formatValue(row.value)}`).join(', ')
      )
    : '';
  return {
    kind,
    title,
    labels: axisLabels,
    unit,
    lines,
    drift: [],
    thresholds,
    summary,
    empty: lines.length === 0
  };
}

/**
 * Colours and fonts of the JupyterLab theme, read from its CSS variables.
 */
export interface IChartTheme {
  font: string;
  fontSize: number;
  text: string;
  mutedText: string;
  border: string;
  grid: string;
  background: string;
  /** Categorical colours for the lines. */
  palette: string[];
  /** The colour of thresholds and drifted points. */
  alert: string;
  /** The colours of a heatmap, from no drift to the most. */
  ramp: [string, string];
  isLight: boolean;
}

/**
 * Tableau 10: used after the theme's own colours when there are many lines.
 */
const FALLBACK_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

/**
 * Read the chart theme from CSS variables; `read(name)` returns a variable's
 * value ('' when it is not defined); `fontSizePx` is the theme's small UI font
 * size in pixels (its variable may be relative, e.g. `0.83333em`).
 */
export function readChartTheme(
  read: (name: string) => string,
  isLight: boolean,
  fontSizePx = 11
): IChartTheme {
  const get = (name: string, fallback: string) => read(name).trim() || fallback;
  const text = get('--jp-ui-font-color1', isLight ? '#212121' : '#e0e0e0');
  const themed = [
    get('--jp-brand-color1', '#1976d2'),
    get('--jp-warn-color1', '#f57c00'),
    get('--jp-success-color1', '#388e3c'),
    get('--jp-info-color1', '#0097a7'),
    get('--jp-mirror-editor-meta-color', '#aa22ff'),
    get('--jp-mirror-editor-string-color', '#ba2121')
  ];
  return {
    font: get('--jp-ui-font-family', 'sans-serif'),
    fontSize: Number.isFinite(fontSizePx) && fontSizePx > 0 ? fontSizePx : 11,
    text,
    mutedText: get('--jp-ui-font-color2', text),
    border: get('--jp-border-color1', '#bdbdbd'),
    grid: get('--jp-border-color2', '#e0e0e0'),
    background: get('--jp-layout-color1', isLight ? '#ffffff' : '#111111'),
    palette: [...new Set(themed), ...FALLBACK_PALETTE],
    alert: get('--jp-error-color1', '#d32f2f'),
    ramp: [
      get('--jp-layout-color2', isLight ? '#eeeeee' : '#424242'),
      get('--jp-error-color1', '#d32f2f')
    ],
    isLight
  };
}

/**
 * A Vega config drawing in the theme's colours and fonts on a transparent
 * background.
 */
export function vegaConfig(theme: IChartTheme): { [key: string]: unknown } {
  const label = {
    labelColor: theme.mutedText,
    labelFont: theme.font,
    labelFontSize: theme.fontSize,
    titleColor: theme.text,
    titleFont: theme.font,
    titleFontSize: theme.fontSize,
    titleFontWeight: 600
  };
  return {
    background: null,
    font: theme.font,
    padding: 4,
    view: { stroke: null },
    axis: {
      ...label,
      domainColor: theme.border,
      gridColor: theme.grid,
      tickColor: theme.border,
      gridOpacity: 1
    },
    legend: {
      ...label,
      orient: 'bottom',
      direction: 'horizontal',
      columns: 3,
      symbolSize: 60,
      labelLimit: 120
    },
    title: {
      color: theme.text,
      font: theme.font,
      fontSize: theme.fontSize + 1,
      anchor: 'start'
    },
    text: { color: theme.text, font: theme.font },
    range: {
      category: theme.palette,
      ramp: theme.ramp,
      heatmap: theme.ramp
    },
    line: { strokeWidth: 1.5 },
    point: { size: 24 },
    rule: { color: theme.alert }
  };
}

function batchAxis(labels: IChartLabels): { [key: string]: unknown } {
  return {
    field: 'batch',
    type: 'quantitative',
    title: labels.batch,
    axis: { tickMinStep: 1, format: 'd' },
    scale: { nice: false, zero: false }
  };
}

/**
 * The Vega-Lite specification of one chart (`width` in pixels, the plot area).
 */
export function chartSpec(
  data: IChartData,
  theme: IChartTheme,
  width: number
): { [key: string]: unknown } {
  const base = {
    description: `${data.title}. ${data.summary}`,
    width: Math.max(80, Math.floor(width)),
    height: CHART_HEIGHT,
    autosize: { type: 'fit-x', contains: 'padding' },
    config: vegaConfig(theme)
  };
  if (data.kind === 'drift') {
    const features = new Set(data.drift.map(row => row.feature));
    return features.size > MAX_DRIFT_LINES
      ? driftHeatmap(base, data, theme, features.size)
      : driftLines(base, data, theme);
  }
  const { labels } = data;
  const tooltip = [
    { field: 'series', title: labels.metric },
    { field: 'batch', title: labels.batch },
    { field: 'value', title: data.unit, format: '.4~g' },
    { field: 'time', title: labels.time }
  ];
  const layers: unknown[] = [
    {
      data: { values: data.lines },
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: batchAxis(labels),
        y: {
          field: 'value',
          type: 'quantitative',
          title: data.unit,
          scale: { zero: false }
        },
        color: { field: 'series', type: 'nominal', title: null },
        tooltip
      }
    }
  ];
  if (data.thresholds.length) {
    layers.push({
      data: { values: data.thresholds },
      mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 1.25 },
      encoding: {
        y: { field: 'value', type: 'quantitative' },
        color: { value: theme.alert },
        tooltip: [{ field: 'label', title: labels.rule }]
      }
    });
  }
  return { ...base, layer: layers };
}

function driftLines(
  base: { [key: string]: unknown },
  data: IChartData,
  theme: IChartTheme
): { [key: string]: unknown } {
  const { labels } = data;
  const tooltip = [
    { field: 'feature', title: labels.feature },
    { field: 'batch', title: labels.batch },
    { field: 'psi', title: labels.psi, format: '.3~g' },
    { field: 'drifted', title: labels.drifted },
    { field: 'time', title: labels.time }
  ];
  const encoding = {
    x: batchAxis(labels),
    y: { field: 'psi', type: 'quantitative', title: labels.psi },
    color: { field: 'feature', type: 'nominal', title: null },
    tooltip
  };
  return {
    ...base,
    data: { values: data.drift },
    layer: [
      { mark: { type: 'line', tooltip: true }, encoding },
      {
        transform: [{ filter: '!datum.drifted' }],
        mark: { type: 'point', filled: false, size: 24, tooltip: true },
        encoding
      },
      {
        transform: [{ filter: 'datum.drifted' }],
        mark: {
          type: 'point',
          filled: true,
          size: 64,
          stroke: theme.alert,
          strokeWidth: 1.5,
          tooltip: true
        },
        encoding
      }
    ]
  };
}

function driftHeatmap(
  base: { [key: string]: unknown },
  data: IChartData,
  theme: IChartTheme,
  features: number
): { [key: string]: unknown } {
  const { labels } = data;
  const tooltip = [
    { field: 'feature', title: labels.feature },
    { field: 'batch', title: labels.batch },
    { field: 'psi', title: labels.psi, format: '.3~g' },
    { field: 'drifted', title: labels.drifted }
  ];
  const encoding = {
    x: { field: 'batch', type: 'ordinal', title: labels.batch },
    y: { field: 'feature', type: 'nominal', title: null }
  };
  return {
    ...base,
    height: Math.max(CHART_HEIGHT, features * 14),
    data: { values: data.drift },
    layer: [
      {
        mark: { type: 'rect', tooltip: true },
        encoding: {
          ...encoding,
          color: {
            field: 'psi',
            type: 'quantitative',
            title: labels.psi,
            scale: { range: theme.ramp }
          },
          tooltip
        }
      },
      {
        transform: [{ filter: 'datum.drifted' }],
        mark: { type: 'text', text: '●', fontSize: 8, color: theme.text },
        encoding
      }
    ]
  };
}
