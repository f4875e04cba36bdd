import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { IAlert, IMonitoringSeries } from '../api';
import {
  CHART_HEIGHT,
  CHART_KINDS,
  chartData,
  hasBatches,
  lastBatch,
  MAX_DRIFT_LINES
} from '../charts';
import { chartSpec, readChartTheme, vegaConfig } from '../chartspec';
import { formatNumber } from '../format';

const trans = nullTranslator.load('nbops');

function points(values: number[], first = 1): IMonitoringSeries[string] {
  return values.map((value, index) => ({
    step: first + index,
    timestamp: Date.UTC(2025, 0, first + index),
    value
  }));
}

function alert(metric: string, threshold: number, op = '<'): IAlert {
  return {
    id: `run-${metric}`,
    deliveries: [],
    state: 'open',
    rule: `${metric}-rule`,
    model: 'churn',
    version: '3',
    metric,
    op,
    threshold,
    severity: 'warning',
    message: ''
  };
}

describe('hasBatches and lastBatch', () => {
  it('find the latest batch over every metric', () => {
    const series = { a: points([1, 2]), b: points([5, 6, 7], 4) };
    expect(hasBatches(series)).toBe(true);
    expect(lastBatch(series)).toBe(6);
  });

  it('say so when there is no batch', () => {
    expect(hasBatches({ a: [] })).toBe(false);
    expect(hasBatches(null)).toBe(false);
    expect(lastBatch({})).toBeNull();
  });
});

describe('chartData', () => {
  const series: IMonitoringSeries = {
    'drift.share': points([0, 0.5]),
    'drift.income.psi': points([0.05, 0.31]),
    'drift.income.drifted': points([0, 1]),
    'drift.age.psi': points([0.02, 0.04]),
    'drift.age.drifted': points([0, 0]),
    'performance.recall': points([0.7, 0.6]),
    'performance.accuracy': points([0.9, 0.81234567]),
    'performance.custom': points([1, 2]),
    'latency.p95_ms': points([12, 14]),
    'latency.p50_ms': points([5, Number.NaN])
  };

  it('draws one chart per kind, in order', () => {
    const charts = chartData(series, [], trans, formatNumber);
    expect(charts.map(chart => chart.kind)).toEqual(CHART_KINDS);
    expect(charts.find(chart => chart.kind === 'fairness')?.empty).toBe(true);
  });

  it('summarises drift at the last batch, naming drifted features', () => {
    const [drift] = chartData(series, [], trans, formatNumber);
    expect(drift.drift).toHaveLength(4);
    expect(drift.drift.filter(row => row.drifted)).toEqual([
      expect.objectContaining({ feature: 'income', batch: 2, psi: 0.31 })
    ]);
    expect(drift.summary).toBe(
      'Batch 2: 1 of 2 features drifted (income); highest PSI 0.31 (income).'
    );
  });

  it('orders performance lines by the usual metrics, then by name', () => {
    const performance = chartData(series, [], trans, formatNumber)[1];
    const order = [...new Set(performance.lines.map(row => row.series))];
    expect(order).toEqual(['accuracy', 'recall', 'custom']);
    expect(performance.summary).toBe(
      'Batch 2: accuracy 0.812346, recall 0.6, custom 2.'
    );
  });

  it('leaves out values that are not numbers', () => {
    const latency = chartData(series, [], trans)[2];
    expect(
      latency.lines.filter(row => row.series === 'p50').map(row => row.batch)
    ).toEqual([1]);
  });

  it('draws each alert rule on the chart of its metric, once', () => {
    const alerts = [
      alert('performance.accuracy', 0.8),
      alert('performance.accuracy', 0.8),
      alert('latency.p95_ms', 20, '>'),
      alert('drift.share', 0.3, '>='),
      alert('performance.unknown_metric', 1)
    ];
    const charts = chartData(series, alerts, trans, formatNumber);
    expect(charts[1].thresholds).toEqual([
      {
        series: 'accuracy',
        value: 0.8,
        label: 'performance.accuracy-rule: accuracy < 0.8'
      }
    ]);
    expect(charts[2].thresholds.map(t => t.series)).toEqual(['p95']);
    expect(charts[0].thresholds).toEqual([]);
  });
});

describe('chart theme and specification', () => {
  const variables: { [name: string]: string } = {
    '--jp-ui-font-color1': ' #111111 ',
    '--jp-brand-color1': '#123456',
    '--jp-warn-color1': '#123456',
    '--jp-error-color1': '#ff0000'
  };
  const theme = readChartTheme(name => variables[name] ?? '', true, 13);

  it('reads the theme variables, with fallbacks and no repeated colours', () => {
    expect(theme.text).toBe('#111111');
    expect(theme.fontSize).toBe(13);
    expect(theme.alert).toBe('#ff0000');
    expect(theme.palette[0]).toBe('#123456');
    expect(new Set(theme.palette).size).toBe(theme.palette.length);
    expect(readChartTheme(() => '', false, Number.NaN).fontSize).toBe(11);
    expect(vegaConfig(theme).background).toBeNull();
  });

  it('draws lines with a dashed rule per threshold', () => {
    const data = chartData(
      { 'latency.p95_ms': points([12, 14]) },
      [alert('latency.p95_ms', 20, '>')],
      trans
    )[2];
    const spec = chartSpec(data, theme, 301.7) as any;
    expect(spec.width).toBe(301);
    expect(spec.height).toBe(CHART_HEIGHT);
    expect(spec.layer).toHaveLength(2);
    expect(spec.layer[1].mark.type).toBe('rule');
    expect(spec.layer[1].data.values).toEqual(data.thresholds);
  });

  it('draws many drifting features as a heatmap', () => {
    const many: IMonitoringSeries = {};
    for (let index = 0; index <= MAX_DRIFT_LINES; index++) {
      many[`drift.f${index}.psi`] = points([0.1, 0.2]);
    }
    const few = chartData({ 'drift.f.psi': points([0.1]) }, [], trans)[0];
    const lots = chartData(many, [], trans)[0];
    expect((chartSpec(few, theme, 200) as any).layer[0].mark.type).toBe('line');
    const heatmap = chartSpec(lots, theme, 200) as any;
    expect(heatmap.layer[0].mark.type).toBe('rect');
    expect(heatmap.height).toBeGreaterThan(CHART_HEIGHT);
  });
});
