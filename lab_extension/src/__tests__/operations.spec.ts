import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  RECENT_STOPPED,
  sortDeployments,
  trafficSplit,
  trafficStats
} from '../model/deployments';
import { PanelModel } from '../model/panel';
import { templateParts } from '../model/prompts';
import { requestAPI } from '../request';
import {
  deploymentOf,
  FakeServer,
  httpError,
  promptOf,
  promptVersionOf
} from './fakeserver';

// The panel model's REST calls go through `requestAPI`: answer them from an
// in-memory server (no Jupyter server runs in unit tests).
vi.mock('../request', async importOriginal => ({
  ...(await importOriginal<typeof import('../request')>()),
  requestAPI: vi.fn()
}));

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

let server: FakeServer;
let panel: PanelModel;

beforeEach(() => {
  server = new FakeServer();
  vi.mocked(requestAPI).mockImplementation(server.request);
  panel = new PanelModel();
});

afterEach(() => {
  panel.dispose();
});

describe('deployments', () => {
  it('are asked for only once the section is opened, live ones first', async () => {
    server.deployments = [
      deploymentOf('old', 'stopped', { started: 1 }),
      deploymentOf('gone', 'stale', { started: 3 }),
      deploymentOf('up', 'live', { started: 2 })
    ];
    await panel.refresh();
    expect(server.log).not.toContain('GET deployments');
    panel.toggleSection('deployments');
    await settle();
    expect(server.log).toContain('GET deployments');
    expect(panel.deployments.items.map(d => d.id)).toEqual([
      'up',
      'gone',
      'old'
    ]);
  });

  it('keep the five newest stopped servers after the running ones', async () => {
    server.deployments = [
      deploymentOf('up', 'live', { started: 1 }),
      ...[2, 3, 4, 5, 6, 7].map(n =>
        deploymentOf(`ended-${n}`, 'stopped', { started: n })
      )
    ];
    await panel.deployments.refresh();
    expect(panel.deployments.items.map(d => d.id)).toEqual([
      'up',
      'ended-7',
      'ended-6',
      'ended-5',
      'ended-4',
      'ended-3'
    ]);
    expect(RECENT_STOPPED).toBe(5);
  });

  it('split traffic between the served alias, canaries and a shadow', () => {
    const d = deploymentOf('a', 'live', {
      canary: { challenger: 10, candidate: 5 },
      shadow: 'shadow-model'
    });
    expect(trafficSplit(d)).toEqual([
      { alias: 'champion', percent: 85, role: 'serving' },
      { alias: 'candidate', percent: 5, role: 'canary' },
      { alias: 'challenger', percent: 10, role: 'canary' },
      { alias: 'shadow-model', percent: null, role: 'shadow' }
    ]);
  });

  it('show traffic figures only when the heartbeat carries them', () => {
    expect(
      trafficStats(deploymentOf('a', 'live', { stats: { logged_rows: 3 } }))
    ).toEqual({ requestsPerMinute: null, p95Ms: null, errorRate: null });
    expect(
      trafficStats(
        deploymentOf('a', 'live', {
          stats: { requests_per_minute: 120, p95_ms: 8.5, error_rate: 0.01 }
        })
      )
    ).toEqual({ requestsPerMinute: 120, p95Ms: 8.5, errorRate: 0.01 });
    expect(sortDeployments([])).toEqual([]);
  });

  it('keep what they showed and say why when a refresh fails', async () => {
    server.deployments = [deploymentOf('up', 'live')];
    await panel.deployments.refresh();
    server.failures.deployments = httpError(503, {
      message: 'cannot reach the store',
      error: 'StoreError'
    });
    expect(await panel.deployments.refresh()).toBe('error');
    expect(panel.deployments.items.map(d => d.id)).toEqual(['up']);
    expect(panel.deployments.error?.message).toContain(
      'cannot reach the store'
    );
  });
});

describe('prompts', () => {
  beforeEach(() => {
    server.prompts = [promptOf('answer'), promptOf('summary')];
    server.promptVersions = {
      answer: [
        promptVersionOf(2, 'Answer {{ question }} in {{language}}.'),
        promptVersionOf(1, 'Answer {{question}}.', ['production'])
      ],
      summary: [promptVersionOf(1, 'Summarise {{text}}.')]
    };
  });

  it('load versions of an expanded prompt, and reload them with the list', async () => {
    panel.toggleSection('prompts');
    await settle();
    expect(panel.prompts.state.items.map(p => p.name)).toEqual([
      'answer',
      'summary'
    ]);
    expect(panel.prompts.state.total).toBe(2);
    await panel.prompts.toggle('answer');
    expect(panel.prompts.isExpanded('answer')).toBe(true);
    expect(panel.prompts.aliasesOf('answer')).toEqual({ production: '1' });
    server.requests = [];
    await panel.prompts.refresh();
    expect(server.log.sort()).toEqual([
      'GET prompts',
      'GET prompts/answer/usage',
      'GET prompts/answer/versions'
    ]);
  });

  it('promote and roll back by name, then show the aliases now', async () => {
    panel.toggleSection('prompts');
    await settle();
    await panel.prompts.toggle('answer');
    const done = await panel.prompts.promote('answer', '2', 'production', 'x');
    expect(done.done).toBe(
      'production of prompt answer now points at version 2.'
    );
    expect(server.requests.find(r => r.method === 'POST')).toMatchObject({
      path: 'prompts/answer/promote',
      body: { version: '2', alias: 'production', reason: 'x' }
    });
    await settle();
    expect(panel.prompts.aliasesOf('answer')).toEqual({ production: '2' });
    const back = await panel.prompts.rollback('answer', 'production', 'y');
    expect(back.done).toBe(
      'production of prompt answer rolled back: it is unset now.'
    );
  });

  it('say why versions could not be loaded', async () => {
    await panel.prompts.toggle('missing');
    expect(panel.prompts.versionsOf('missing').error?.message).toContain(
      "no prompt named 'missing'"
    );
  });

  it('highlight exactly the variables MLflow fills', () => {
    expect(templateParts('Hi {{ name }}, {{a.b}} {{1x}} {x}')).toEqual([
      { text: 'Hi ', variable: null },
      { text: '{{ name }}', variable: 'name' },
      { text: ', ', variable: null },
      { text: '{{a.b}}', variable: 'a.b' },
      { text: ' {{1x}} {x}', variable: null }
    ]);
  });
});
