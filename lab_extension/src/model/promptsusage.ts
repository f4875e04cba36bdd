/**
 * A prompt's usage charts: calls, tokens in and out, cost per 1,000 calls
 * and p95 latency per logged window of the version an alias holds, from
 * `GET prompts/{name}/usage` (the store's aggregates, never the traces).
 * Pure functions: drawn by `views/chart.tsx` like the monitoring charts.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import type { IPromptUsage, IPromptVersion } from '../api';
import type { IChartData, ILinePoint } from '../charts';

/**
 * What the usage of a prompt is read for: the version an alias holds now, or
 * one version.
 */
export type UsageChoice = { alias: string } | { version: string };

/**
 * A choice as text (`alias:production`, `version:2`), for a `<select>`.
 */
export function choiceKey(choice: UsageChoice): string {
  return 'alias' in choice
    ? `alias:${choice.alias}`
    : `version:${choice.version}`;
}

export function choiceOf(key: string): UsageChoice | null {
  const at = key.indexOf(':');
  const kind = key.slice(0, at);
  const value = key.slice(at + 1);
  if (!value) {
    return null;
  }
  return kind === 'alias'
    ? { alias: value }
    : kind === 'version'
      ? { version: value }
      : null;
}

/**
 * The choices offered: every alias (production first), then every version.
 */
export function usageChoices(versions: readonly IPromptVersion[]): {
  key: string;
  choice: UsageChoice;
  version: string;
}[] {
  const aliases: [string, string][] = [];
  for (const v of versions) {
    for (const alias of v.aliases) {
      aliases.push([alias, v.version]);
    }
  }
  aliases.sort(([a], [b]) =>
    a === 'production' ? -1 : b === 'production' ? 1 : a < b ? -1 : 1
  );
  return [
    ...aliases.map(([alias, version]) => ({
      key: choiceKey({ alias }),
      choice: { alias } as UsageChoice,
      version
    })),
    ...versions.map(v => ({
      key: choiceKey({ version: v.version }),
      choice: { version: v.version } as UsageChoice,
      version: v.version
    }))
  ];
}

/**
 * What is shown before the user picks: `production` (or the first alias),
 * else the newest version; null without versions.
 */
export function defaultUsageChoice(
  versions: readonly IPromptVersion[]
): UsageChoice | null {
  const choices = usageChoices(versions);
  return choices.length ? choices[0].choice : null;
}

/**
 * The charts, in order, with the metrics each draws (metric → line label).
 */
function usageMetrics(trans: TranslationBundle): {
  id: string;
  title: string;
  unit: string;
  lines: [string, string][];
}[] {
  return [
    {
      id: 'calls',
      title: trans.__('Calls'),
      unit: trans.__('calls'),
      lines: [['llm.calls', trans.__('calls')]]
    },
    {
      id: 'tokens',
      title: trans.__('Tokens'),
      unit: trans.__('tokens'),
      lines: [
        ['llm.tokens_in', trans.__('in')],
        ['llm.tokens_out', trans.__('out')]
      ]
    },
    {
      id: 'cost',
      title: trans.__('Cost per 1,000 calls'),
      unit: trans.__('USD'),
      lines: [['llm.cost_per_1k_calls', trans.__('per 1,000 calls')]]
    },
    {
      id: 'latency',
      title: trans.__('Latency p95'),
      unit: trans.__('ms'),
      lines: [['llm.latency_p95_ms', trans.__('p95')]]
    }
  ];
}

/**
 * One usage chart: its id (`calls`, `tokens`, `cost`, `latency`) and data.
 */
export interface IUsageChart {
  id: string;
  data: IChartData;
}

/**
 * The number of the last logged window, or null before any.
 */
export function lastWindow(usage: IPromptUsage | null): number | null {
  let last: number | null = null;
  for (const points of Object.values(usage?.series ?? {})) {
    for (const point of points ?? []) {
      last = last === null ? point.step : Math.max(last, point.step);
    }
  }
  return last;
}

/**
 * The charts of the usage, each with a summary of its last window; a chart
 * none of whose metrics was logged is left out.
 */
export function usageCharts(
  usage: IPromptUsage,
  trans: TranslationBundle,
  formatValue: (value: number) => string = String
): IUsageChart[] {
  const labels = {
    batch: trans.__('window'),
    time: trans.__('window end'),
    metric: trans.__('metric'),
    feature: trans.__('feature'),
    drifted: trans.__('drifted'),
    psi: trans.__('PSI'),
    rule: trans.__('alert rule')
  };
  const charts: IUsageChart[] = [];
  for (const spec of usageMetrics(trans)) {
    const lines: ILinePoint[] = [];
    for (const [metric, label] of spec.lines) {
      for (const point of usage.series[metric] ?? []) {
        if (Number.isFinite(point.value)) {
          const date = new Date(point.timestamp);
          lines.push({
            series: label,
            batch: point.step,
            time: Number.isNaN(date.getTime()) ? '' : date.toISOString(),
            value: point.value
          });
        }
      }
    }
    if (!lines.length) {
      continue;
    }
    const last = Math.max(...lines.map(row => row.batch));
    const latest = lines.filter(row => row.batch === last);
    const summary = trans.__(
      'Window %1: %2.',
      last,
      latest.map(row => `${row.series} ${formatValue(row.value)}`).join(', ')
    );
    charts.push({
      id: spec.id,
      data: {
        // Drawn as the monitoring line charts are: one line per metric by window.
        kind: spec.id === 'latency' ? 'latency' : 'performance',
        title: spec.title,
        labels,
        unit: spec.unit,
        lines,
        drift: [],
        thresholds: [],
        summary,
        empty: false
      }
    });
  }
  return charts;
}
