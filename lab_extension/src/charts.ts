/**
 * The data of the monitoring charts, from a version's monitoring series and
 * alerts: which lines and points, thresholds, and a one-line summary. Pure
 * functions: the Vega-Lite specifications are in `chartspec.ts`, rendering
 * (and the lazy import of vega-embed) in `views/chart.tsx`.
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

export function chartLabels(trans: TranslationBundle): IChartLabels {
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
