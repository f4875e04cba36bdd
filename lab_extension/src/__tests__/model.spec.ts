import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { MONITORING_METRICS } from '../charts';
import { PanelModel, readViewState } from '../model/panel';
import { IActionState } from '../model/version';
import { requestAPI } from '../request';
import {
  alertOf,
  FakeServer,
  httpError,
  model,
  run,
  STORE,
  versionSummary
} from './fakeserver';

// The panel model's REST calls go through `requestAPI`: answer them from an
// in-memory server (no Jupyter server runs in unit tests).
vi.mock('../request', async importOriginal => ({
  ...(await importOriginal<typeof import('../request')>()),
  requestAPI: vi.fn()
}));

/**
 * Let every answer and reaction already on its way arrive.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

let server: FakeServer;
let panel: PanelModel;

function newPanel(options: PanelModel.IOptions = {}): PanelModel {
  panel = new PanelModel(options);
  return panel;
}

beforeEach(() => {
  server = new FakeServer();
  server.runs = [run(1), run(2), run(3)];
  server.models = [model('churn', 2, { champion: '1' }), model('fraud', 1)];
  server.versions = { churn: [versionSummary(2), versionSummary(1)] };
  vi.mocked(requestAPI).mockImplementation(server.request);
});

afterEach(() => {
  panel?.dispose();
  vi.useRealTimers();
});

describe('refreshing', () => {
  it('loads the open sections, the alerts even when folded, and the store', async () => {
    const p = newPanel();
    const changes = vi.fn();
    p.changed.connect(changes);
    await p.refresh();
    expect(server.log).toContain('GET status');
    expect(p.isOpen('alerts')).toBe(true);
    p.toggleSection('alerts'); // folded: its title still counts open alerts
    server.requests = [];
    await p.refresh();
    expect(server.log.sort()).toEqual([
      'GET alerts',
      'GET alerts',
      'GET models',
      'GET runs'
    ]);
    expect(p.store).toBe(STORE);
    expect(p.runs.state.items.map(r => r.run_id)).toEqual([
      'run1',
      'run2',
      'run3'
    ]);
    expect(p.registry.state.total).toBe(2);
    expect(p.alerts.loaded).toBe(true);
    expect(p.refreshing).toBe(false);
    expect(changes).toHaveBeenCalled();
  });

  it('asks a fresh server for the models alone first', async () => {
    const p = newPanel();
    server.held.add('models');
    const first = p.refresh();
    await settle();
    expect(server.log).toEqual(['GET status', 'GET models']);
    expect(p.refreshing).toBe(true);
    server.release('models');
    await first;
    expect(server.log.slice(2).sort()).toEqual([
      'GET alerts',
      'GET alerts',
      'GET runs'
    ]);
    // Loaded: everything at once, and the store is known from the runs.
    server.requests = [];
    server.held.add('models');
    const second = p.refresh();
    await settle();
    expect(server.log.sort()).toEqual([
      'GET alerts',
      'GET alerts',
      'GET models',
      'GET runs'
    ]);
    server.release('models');
    await second;
  });

  it('shares one refresh between concurrent callers', async () => {
    const p = newPanel();
    await Promise.all([p.refresh(), p.refresh(), p.refreshNow()]);
    expect(server.log.filter(line => line === 'GET models')).toHaveLength(1);
  });

  it('asks for a page of the configured size, clamped to what the schema allows', async () => {
    const p = newPanel({ pageSize: 2 });
    await p.refresh();
    expect(server.requests.find(r => r.path === 'runs')?.query).toEqual({
      max_results: '2'
    });
    expect(p.runs.state.nextPageToken).toBe('2');
    await p.runs.loadMore();
    expect(server.requests[server.requests.length - 1].query).toEqual({
      max_results: '2',
      page_token: '2'
    });
    expect(p.runs.state.items).toHaveLength(3);
    p.configure({ pageSize: 9999, refreshInterval: -3 });
    expect(p.config).toEqual({ pageSize: 500, refreshInterval: 0 });
    p.configure({ pageSize: Number.NaN });
    expect(p.config.pageSize).toBe(50);
  });

  it('opening the audit trail loads it; folding a section saves the view', async () => {
    server.events = [
      {
        seq: 1,
        time: '2025-01-31T09:30:00.123Z',
        actor: 'ada',
        action: 'promote',
        summary: '#1'
      }
    ];
    const p = newPanel();
    await p.refresh();
    expect(server.log).not.toContain('GET audit');
    const saved = vi.fn();
    p.viewStateChanged.connect((_, state) => saved(state.sections));
    p.toggleSection('audit');
    await settle();
    expect(server.log).toContain('GET audit');
    expect(p.audit.state.total).toBe(1);
    expect(saved).toHaveBeenLastCalledWith({
      models: true,
      deployments: false,
      prompts: false,
      readiness: false,
      runs: true,
      alerts: true,
      audit: true
    });
  });

  it('shows a failing section with a hint, keeps the others, and backs off', async () => {
    server.failures.models = httpError(500, {
      message: 'Internal error: the server log has the details.',
      error: 'InternalError'
    });
    const p = newPanel({ refreshInterval: 10 });
    await p.refresh();
    expect(p.registry.error).toEqual({
      message: 'Internal error: the server log has the details.',
      hint: 'The Jupyter server log has the details.',
      status: 500,
      missingGates: []
    });
    expect(p.runs.state.items).toHaveLength(3);
    const before = p.poller.delay;
    p.poller.start();
    await p.refresh();
    expect(p.poller.delay).toBeGreaterThan(before);
    delete server.failures.models;
    await p.refresh();
    expect(p.registry.error).toBeNull();
    expect(p.poller.delay).toBe(10_000);
  });
});

describe('polling', () => {
  it('polls while shown and the page is visible, and not after stop', async () => {
    vi.useFakeTimers();
    let shown = true;
    let pageVisible = true;
    const p = newPanel({
      refreshInterval: 5,
      isShown: () => shown,
      isPageVisible: () => pageVisible
    });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    const count = () => server.log.filter(l => l === 'GET models').length;
    expect(count()).toBe(1);
    await vi.advanceTimersByTimeAsync(p.poller.delay);
    expect(count()).toBe(2);
    pageVisible = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(count()).toBe(2);
    pageVisible = true;
    shown = false;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(count()).toBe(2);
    shown = true;
    p.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(count()).toBe(2);
  });
});

describe('the Models section', () => {
  it('loads the versions of an expanded model and the detail of a selected version', async () => {
    const p = newPanel();
    await p.refresh();
    p.registry.toggle('churn');
    await settle();
    expect(p.registry.versions('churn')?.state.items).toHaveLength(2);
    p.registry.select('churn', '2');
    await settle();
    const detail = p.registry.version.detailOf('churn', '2');
    expect(detail?.data?.metrics).toEqual({ accuracy: 0.9 });
    const monitoring = server.requests.find(r =>
      r.path.endsWith('/monitoring')
    );
    expect(monitoring?.path).toBe('models/churn/versions/2/monitoring');
    expect(monitoring?.query.metrics).toBe(MONITORING_METRICS.join(','));
    // A refresh re-reads what is open: models, versions, the detail.
    server.requests = [];
    await p.refresh();
    expect(server.log).toEqual(
      expect.arrayContaining([
        'GET models',
        'GET models/churn/versions',
        'GET models/churn/versions/2',
        'GET models/churn/versions/2/monitoring'
      ])
    );
    // Folding the model unselects its version.
    p.registry.toggle('churn');
    expect(p.registry.version.selected).toBeNull();
    expect(p.registry.versions('churn')).toBeNull();
  });

  it('acts on what a click saw, not on state restored a frame earlier', async () => {
    const p = newPanel();
    await p.refresh();
    // The saved view state expands churn before the view re-renders; a
    // click on the row still shown folded must expand it, not fold it.
    p.restoreViewState({ expanded: ['churn'], selected: null });
    p.registry.toggle('churn', true);
    expect(p.registry.isExpanded('churn')).toBe(true);
    p.registry.setSelected('churn', '2', true);
    p.registry.setSelected('churn', '2', true);
    expect(p.registry.version.selected).toEqual({
      model: 'churn',
      version: '2'
    });
    p.registry.setSelected('churn', '2', false);
    expect(p.registry.version.selected).toBeNull();
    p.toggleSection('models', p.isOpen('models'));
    expect(p.isOpen('models')).toBe(true);
    p.registry.toggle('churn', false);
    p.registry.toggle('churn', false);
    expect(p.registry.isExpanded('churn')).toBe(false);
  });

  it('encodes a model name as one URL segment', async () => {
    server.models = [model('a/b c', 1)];
    server.versions = { 'a/b c': [versionSummary(1)] };
    const p = newPanel();
    await p.refresh();
    p.registry.toggle('a/b c');
    await settle();
    expect(server.requests.map(r => r.path)).toContain(
      'models/a%2Fb%20c/versions'
    );
  });

  it('filters by name after a reset, dropping answers for the old filter', async () => {
    const p = newPanel();
    await p.refresh();
    server.held.add('models');
    p.registry.setFilter('  fra ');
    expect(p.registry.state.loaded).toBe(false);
    server.release('models');
    await settle();
    expect(server.requests[server.requests.length - 1].query).toEqual({
      max_results: '50',
      filter: 'fra'
    });
    expect(p.registry.state.items.map(m => m.name)).toEqual(['fraud']);
    expect(p.viewState.filter).toBe('fra');
  });

  it('reveals a version off the loaded pages by filtering down to its model', async () => {
    server.models = [model('alpha', 1), model('churn', 2)];
    const p = newPanel({ pageSize: 1 });
    p.toggleSection('models'); // folded: reveal opens it
    await p.refresh();
    p.reveal('churn', '2');
    await settle();
    expect(p.isOpen('models')).toBe(true);
    expect(p.registry.filter).toBe('churn');
    expect(p.registry.isExpanded('churn')).toBe(true);
    expect(p.registry.version.selected).toEqual({
      model: 'churn',
      version: '2'
    });
    // Revealing it again keeps it selected (selecting again would unselect).
    p.reveal('churn', '2');
    expect(p.registry.version.selected).not.toBeNull();
  });
});

describe('alias changes', () => {
  it('promotes with the reason, says what happened, and refreshes', async () => {
    const p = newPanel();
    await p.refresh();
    p.registry.toggle('churn');
    p.registry.select('churn', '2');
    await settle();
    const finished: IActionState[] = [];
    p.registry.version.actionFinished.connect((_, action) =>
      finished.push(action)
    );
    server.requests = [];
    const pending = p.registry.version.promote(
      'churn',
      '2',
      'champion',
      'better F1'
    );
    expect(p.registry.version.actionOf('churn', '2')?.busy).toBe(true);
    const outcome = await pending;
    expect(server.requests[0]).toMatchObject({
      method: 'POST',
      path: 'models/churn/promote',
      body: { version: '2', alias: 'champion', reason: 'better F1' }
    });
    expect(outcome).toMatchObject({
      busy: false,
      done: 'champion of churn now points at version 2.',
      error: null
    });
    expect(finished).toEqual([outcome]);
    expect(server.log).toContain('GET models');
    expect(p.registry.find('churn')?.aliases).toEqual({ champion: '2' });
  });

  it('keeps the gates a refused promotion misses', async () => {
    server.missingGates = { champion: ['performance', 'latency'] };
    const p = newPanel();
    await p.refresh();
    const outcome = await p.registry.version.promote(
      'churn',
      '2',
      'champion',
      'why not'
    );
    expect(outcome.done).toBeNull();
    expect(outcome.error).toMatchObject({
      status: 409,
      missingGates: ['performance', 'latency'],
      hint: 'Run the missing gates (nbops gate run, or %gate in a notebook), then try again.'
    });
    expect(p.registry.find('churn')?.aliases).toEqual({ champion: '1' });
  });

  it('rolls back and says when the alias is unset', async () => {
    const p = newPanel();
    await p.refresh();
    const outcome = await p.registry.version.rollback(
      'churn',
      '1',
      'champion',
      'bad canary'
    );
    expect(server.requests.find(r => r.method === 'POST')).toMatchObject({
      path: 'models/churn/rollback',
      body: { alias: 'champion', reason: 'bad canary' }
    });
    expect(outcome.done).toBe(
      'champion of churn rolled back: it is unset now.'
    );
  });
});

describe('the Alerts section', () => {
  it('lists open alerts most severe first, then newest; resolved newest first', async () => {
    server.alerts = [
      alertOf('a', 'info', '2025-01-03'),
      alertOf('b', 'critical', '2025-01-01'),
      alertOf('c', 'warning', '2025-01-02'),
      alertOf('d', 'critical', '2025-01-05'),
      alertOf('e', 'odd', '2025-01-09')
    ];
    for (let day = 10; day < 25; day++) {
      server.alerts.push(
        alertOf(`r${day}`, 'critical', '2025-01-01', {
          state: 'resolved',
          resolved_at: `2025-01-${day}`
        })
      );
    }
    const p = newPanel();
    await p.refresh();
    expect(p.alerts.open.map(a => a.id)).toEqual(['d', 'b', 'c', 'a', 'e']);
    expect(p.alerts.resolved[0].id).toBe('r24');
    expect(p.alerts.resolvedShown).toBe(10);
    p.alerts.showMoreResolved();
    expect(p.alerts.resolvedShown).toBe(20);
    expect(p.alerts.forVersion('churn', '2')).toHaveLength(20);
    expect(p.alerts.forVersion('churn', '3')).toHaveLength(0);
  });
});

describe('the saved view', () => {
  it('restores sections, expanded models, the selection and the filter', async () => {
    const first = newPanel();
    await first.refresh();
    first.toggleSection('audit');
    first.registry.toggle('churn');
    first.registry.select('churn', '2');
    await settle();
    const saved = JSON.parse(JSON.stringify(first.viewState));
    first.dispose();

    server.requests = [];
    const second = newPanel({ isShown: () => false });
    second.restoreViewState(saved);
    await settle();
    expect(second.viewState).toEqual(saved);
    // Not shown: only what restoring itself needs (versions, the detail).
    expect(server.log.sort()).toEqual([
      'GET models/churn/versions',
      'GET models/churn/versions/2',
      'GET models/churn/versions/2/monitoring'
    ]);
  });

  it('ignores what is not a saved view', () => {
    expect(readViewState(null)).toBeNull();
    expect(readViewState('x')).toBeNull();
    expect(
      readViewState({
        sections: { models: false, runs: 'yes', pipelines: true },
        expanded: ['churn', 7, '', 'fraud'],
        selected: { model: 'churn', version: '../1' },
        filter: '  ch  '
      })
    ).toEqual({
      sections: { models: false },
      expanded: ['churn', 'fraud'],
      selected: null,
      filter: 'ch'
    });
  });
});

describe('dispose', () => {
  it('stops polling and drops answers on their way', async () => {
    vi.useFakeTimers();
    const p = newPanel({ refreshInterval: 1 });
    const changes = vi.fn();
    p.changed.connect(changes);
    server.held.add('runs');
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    p.dispose();
    changes.mockClear();
    server.release('runs');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(changes).not.toHaveBeenCalled();
    expect(server.log.filter(l => l === 'GET runs')).toHaveLength(1);
    await p.refresh(); // a no-op
    expect(server.log.filter(l => l === 'GET runs')).toHaveLength(1);
  });
});
