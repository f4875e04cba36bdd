import { describe, expect, it } from 'vitest';

import { ICanaryState, IDeploymentTraffic } from '../api';
import { chartLabels } from '../charts';
import { canaryControls, trafficCharts } from '../model/deployments';
import { deploymentOf } from './fakeserver';

const trans = {
  __: (text: string, ...args: unknown[]) =>
    text.replace(/%(\d)/g, (_, i) => String(args[Number(i) - 1]))
} as any;

function canaryOf(state: ICanaryState['state']): ICanaryState {
  return {
    state,
    verdict: state === 'running' ? 'running' : 'failed',
    reason: 'collecting requests',
    step: 1,
    steps: [10, 50],
    share: 10,
    alias: 'challenger',
    version: '2',
    champion_alias: 'champion',
    champion_version: '1',
    min_requests: 50,
    requests: {},
    rules: [],
    updated: null
  };
}

describe('canaryControls', () => {
  it('enables Promote canary and Abort only while a live server runs a canary', () => {
    const live = deploymentOf('d1', 'live');
    expect(canaryControls(live, canaryOf('running'), trans)).toEqual({
      enabled: true,
      why: null
    });
    expect(canaryControls(live, null, trans)).toEqual({
      enabled: false,
      why: 'No canary runs on this server.'
    });
    expect(canaryControls(live, canaryOf('rolled_back'), trans).why).toBe(
      'The canary has ended (rolled back).'
    );
    const stale = deploymentOf('d2', 'stale');
    expect(canaryControls(stale, canaryOf('running'), trans).enabled).toBe(
      false
    );
  });
});

describe('trafficCharts', () => {
  it('draws rate, p95 and error rate per version in time order, skipping gaps', () => {
    const point = (
      version: string,
      role: 'champion' | 'canary',
      time: number,
      rate: number | null,
      errors: number | null
    ) => ({
      version,
      role,
      batch: 1,
      time,
      rows: 4,
      requests_per_minute: rate,
      p95_ms: 12,
      error_rate: errors
    });
    const traffic: IDeploymentTraffic = {
      deployment_id: 'd',
      model: 'shop',
      alias: 'champion',
      started: 0,
      stopped: null,
      versions: [],
      canary: null,
      points: [
        point('2', 'canary', 120_000, 8, 0.5),
        point('1', 'champion', 60_000, 4, 0),
        point('1', 'champion', 180_000, null, null)
      ]
    };
    const [rate, latency, errors] = trafficCharts(
      traffic,
      { rate: 'Requests', latency: 'p95', errors: 'Errors' },
      chartLabels(trans),
      (version, role) => `v${version} (${role})`
    );
    expect(rate.lines.map(p => [p.series, p.batch, p.value])).toEqual([
      ['v1 (champion)', 1, 4],
      ['v2 (canary)', 2, 8]
    ]);
    expect(latency.lines).toHaveLength(3);
    expect(errors.lines.map(p => p.value)).toEqual([0, 50]);
    expect(errors.unit).toBe('%');
    expect(rate.empty).toBe(false);
  });
});
