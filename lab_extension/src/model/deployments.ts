/**
 * The Deployments section: the model servers `nbops serve` / `%serve` started,
 * live ones first, each with what it serves, its traffic split and, when the
 * server reports them, its request rate, p95 latency and error rate.
 */

import { IDeployment } from '../api';
import { FetchedSection } from './fetched';

const STATUS_ORDER = ['live', 'stale', 'stopped'];

export class DeploymentsModel extends FetchedSection<IDeployment> {
  readonly id = 'deployments';
  readonly openByDefault = false;

  protected async fetch(): Promise<IDeployment[]> {
    return sortDeployments(await this.host.api.deployments());
  }
}

/**
 * Live first, then stale, then stopped; newest first within each.
 */
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
