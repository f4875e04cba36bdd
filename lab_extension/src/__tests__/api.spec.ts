import { describe, expect, it, vi } from 'vitest';

import { REFRESH_COMMAND, SPEC, staleness } from '../../scripts/api-types.mjs';
import { nbopsApi } from '../api';
import { requestAPI } from '../request';

// Record the requests the REST client makes instead of sending them.
vi.mock('../request', async importOriginal => ({
  ...(await importOriginal<typeof import('../request')>()),
  requestAPI: vi.fn(async () => ({}))
}));

describe('the API types', () => {
  it('are generated from the current openapi.yaml', async () => {
    // On failure the message names the one command that refreshes them.
    expect(await staleness()).toBeNull();
  });

  it('say how to refresh them when they are stale', async () => {
    const missing = new URL('./no-such-api.gen.ts', SPEC);
    expect(await staleness(SPEC, missing)).toContain(REFRESH_COMMAND);
    expect(REFRESH_COMMAND).toBe('cd lab_extension && jlpm run api:types');
  });
});

describe('the REST client', () => {
  const sent = () =>
    vi
      .mocked(requestAPI)
      .mock.calls.map(([endPoint, init]) => [
        endPoint,
        init?.method ?? 'GET',
        init?.body ?? null
      ]);

  it('asks for the paths and query names of the OpenAPI file', async () => {
    vi.mocked(requestAPI).mockClear();
    await nbopsApi.status();
    await nbopsApi.runs(50, null);
    await nbopsApi.models(20, 'tok', 'ch urn');
    await nbopsApi.versions('a/b', 10);
    await nbopsApi.version('churn', '3');
    await nbopsApi.monitoring('churn', '3', ['drift.share', 'drift.*.psi']);
    await nbopsApi.alerts('resolved', 'churn');
    await nbopsApi.audit(5, 'x');
    await nbopsApi.promote('churn', '3', 'champion', 'why');
    await nbopsApi.rollback('churn', 'champion', 'oops');
    expect(sent()).toEqual([
      ['status', 'GET', null],
      ['runs?max_results=50', 'GET', null],
      ['models?max_results=20&page_token=tok&filter=ch%20urn', 'GET', null],
      ['models/a%2Fb/versions?max_results=10', 'GET', null],
      ['models/churn/versions/3', 'GET', null],
      [
        'models/churn/versions/3/monitoring?metrics=drift.share%2Cdrift.*.psi',
        'GET',
        null
      ],
      ['alerts?state=resolved&model=churn', 'GET', null],
      ['audit?max_results=5&page_token=x', 'GET', null],
      [
        'models/churn/promote',
        'POST',
        '{"version":"3","alias":"champion","reason":"why"}'
      ],
      ['models/churn/rollback', 'POST', '{"alias":"champion","reason":"oops"}']
    ]);
  });
});
