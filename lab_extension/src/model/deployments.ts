/**
 * The Deployments section: the model servers `nbops serve` / `%serve` started,
 * live ones first, each with what it serves, its traffic split and, when the
 * server reports them, its request rate, p95 latency and error rate.
 */

import { ICanaryState, IDeployment, IDeploymentTraffic } from '../api';
import { IChartData, IChartLabels, ILinePoint } from '../charts';
import { describeError, IErrorInfo } from './errors';
import { FetchedSection } from './fetched';

const STATUS_ORDER = ['live', 'stale', 'stopped'];
/**
 * Ended servers kept in the list (newest first), so a demo's or yesterday's
 * canary can still be looked at after its server stopped.
 */
export const RECENT_STOPPED = 5;

export class DeploymentsModel extends FetchedSection<IDeployment> {
  readonly id = 'deployments';
  readonly openByDefault = false;

  /**
   * Each running server's traffic over time and canary, by deployment id;
   * read with the list (one request per running server).
   */
  get traffic(): ReadonlyMap<string, IDeploymentTraffic> {
    return this._traffic;
  }

  /**
   * The last canary action's outcome, for the view and the notification.
   */
  get action(): ICanaryAction | null {
    return this._action;
  }

  /**
   * End `model`'s canary: promote its challenger or abort it (the reason goes
   * into the audit log). A refusal by the policy names the missing gates.
   */
  async endCanary(
    model: string,
    ending: 'promote' | 'abort',
    reason: string
  ): Promise<ICanaryAction> {
    const { api, trans } = this.host;
    this._action = { model, ending, busy: true, done: null, error: null };
    this.emitChanged();
    try {
      const answer =
        ending === 'promote'
          ? await api.promoteCanary(model, reason)
          : await api.abortCanary(model, reason);
      this._action = {
        model,
        ending,
        busy: false,
        error: null,
        done:
          ending === 'promote'
            ? trans.__(
                'Canary of %1 version %2 promoted; its servers act on their next poll.',
                model,
                answer.version
              )
            : trans.__(
                'Canary of %1 version %2 aborted; its servers act on their next poll.',
                model,
                answer.version
              )
      };
    } catch (reason) {
      this._action = {
        model,
        ending,
        busy: false,
        done: null,
        error: describeError(reason, trans)
      };
    }
    this.emitChanged();
    void this.host.refreshNow();
    return this._action;
  }

  protected async fetch(): Promise<IDeployment[]> {
    const found = keepRecent(await this.host.api.deployments());
    const answers = await Promise.all(
      found.map(d => this.host.api.deploymentTraffic(d.id).catch(() => null))
    );
    const traffic = new Map<string, IDeploymentTraffic>();
    answers.forEach((answer, i) => {
      if (answer) {
        traffic.set(found[i].id, answer);
      }
    });
    this._traffic = traffic;
    return found;
  }

  private _traffic: ReadonlyMap<string, IDeploymentTraffic> = new Map();
  private _action: ICanaryAction | null = null;
}

/**
 * A canary promote or abort from the sidebar: running, done or refused.
 */
export interface ICanaryAction {
  model: string;
  ending: 'promote' | 'abort';
  busy: boolean;
  done: string | null;
  error: IErrorInfo | null;
}

/**
 * Whether the Promote canary and Abort buttons act, and why not.
 */
export interface ICanaryControls {
  enabled: boolean;
  /** Why the buttons are disabled; null when they are enabled. */
  why: string | null;
}

export function canaryControls(
  deployment: IDeployment,
  canary: ICanaryState | null | undefined,
  trans: { __: (text: string, ...args: any[]) => string }
): ICanaryControls {
  if (deployment.status !== 'live') {
    return {
      enabled: false,
      why: trans.__('The server is not live: no canary to end.')
    };
  }
  if (!canary || canary.state !== 'running') {
    return {
      enabled: false,
      why: canary
        ? trans.__('The canary has ended (%1).', canary.state.replace('_', ' '))
        : trans.__('No canary runs on this server.')
    };
  }
  return { enabled: true, why: null };
}

/**
 * The three traffic charts of a server (requests per minute, p95 latency,
 * error rate in percent), one line per served version. Points are numbered
 * in time order across versions, so the x axis is the server's batches.
 */
export function trafficCharts(
  traffic: IDeploymentTraffic,
  titles: { rate: string; latency: string; errors: string },
  labels: IChartLabels,
  versionLabel: (version: string, role: string) => string
): IChartData[] {
  const ordered = traffic.points
    .slice()
    .sort((a, b) => a.time - b.time || a.version.localeCompare(b.version));
  const lines = (
    pick: (p: IDeploymentTraffic['points'][number]) => number | null
  ): ILinePoint[] => {
    const out: ILinePoint[] = [];
    ordered.forEach((p, i) => {
      const value = pick(p);
      if (value !== null && Number.isFinite(value)) {
        out.push({
          series: versionLabel(p.version, p.role),
          batch: i + 1,
          time: new Date(p.time).toISOString(),
          value
        });
      }
    });
    return out;
  };
  const chart = (
    title: string,
    unit: string,
    points: ILinePoint[]
  ): IChartData => {
    const last = points[points.length - 1];
    return {
      kind: 'latency',
      title,
      labels,
      unit,
      lines: points,
      drift: [],
      thresholds: [],
      summary: last
        ? `${last.series}: ${+last.value.toPrecision(4)} ${unit}`
        : '',
      empty: points.length === 0
    };
  };
  return [
    chart(
      titles.rate,
      '/min',
      lines(p => p.requests_per_minute)
    ),
    chart(
      titles.latency,
      'ms',
      lines(p => p.p95_ms)
    ),
    chart(
      titles.errors,
      '%',
      lines(p => (p.error_rate === null ? null : p.error_rate * 100))
    )
  ];
}

/**
 * Live first, then stale, then stopped; newest first within each.
 */
/**
 * Running servers first, then at most `RECENT_STOPPED` ended ones, newest first.
 */
export function keepRecent(deployments: IDeployment[]): IDeployment[] {
  const sorted = sortDeployments(deployments);
  const running = sorted.filter(d => d.status !== 'stopped');
  const stopped = sorted.filter(d => d.status === 'stopped');
  return [...running, ...stopped.slice(0, RECENT_STOPPED)];
}

export function sortDeployments(deployments: IDeployment[]): IDeployment[] {
  const rank = (d: IDeployment) => {
    const at = STATUS_ORDER.indexOf(d.status);
    return at < 0 ? STATUS_ORDER.length : at;
  };
  return deployments
    .slice()
    .sort((a, b) => rank(a) - rank(b) || (b.started ?? 0) - (a.started ?? 0));
}

/**
 * One share of a server's traffic.
 */
export interface ITrafficShare {
  alias: string;
  /** Percent of requests it answers; null for a shadow (it gets copies). */
  percent: number | null;
  role: 'serving' | 'canary' | 'shadow';
}

/**
 * How a server splits its requests: the served alias gets what the canaries
 * leave; a shadow gets a copy of every request.
 */
export function trafficSplit(deployment: IDeployment): ITrafficShare[] {
  const canaries = Object.entries(deployment.canary ?? {})
    .filter(([, percent]) => Number.isFinite(percent))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const taken = canaries.reduce((sum, [, percent]) => sum + percent, 0);
  const shares: ITrafficShare[] = [
    {
      alias: deployment.alias,
      percent: Math.max(0, 100 - taken),
      role: 'serving'
    },
    ...canaries.map(([alias, percent]): ITrafficShare => ({
      alias,
      percent,
      role: 'canary'
    }))
  ];
  if (deployment.shadow) {
    shares.push({ alias: deployment.shadow, percent: null, role: 'shadow' });
  }
  return shares;
}

/**
 * The traffic figures a server's heartbeat may carry; null where it did not.
 */
export interface ITrafficStats {
  requestsPerMinute: number | null;
  p95Ms: number | null;
  /** A fraction (0.02 = 2 %). */
  errorRate: number | null;
}

export function trafficStats(deployment: IDeployment): ITrafficStats {
  const stats = (deployment.stats ?? {}) as { [key: string]: unknown };
  const number = (key: string): number | null => {
    const value = stats[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  return {
    requestsPerMinute: number('requests_per_minute'),
    p95Ms: number('p95_ms'),
    errorRate: number('error_rate')
  };
}
