import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { IModelReadiness } from '../api';
import { PanelModel } from '../model/panel';
import {
  readinessRow,
  readinessRows,
  weakestSection
} from '../model/readiness';
import { requestAPI } from '../request';
import { FakeServer, httpError, readinessOf } from './fakeserver';

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

function modelOf(
  model: string,
  sections: IModelReadiness['sections'],
  steps: { [test: string]: string | null } = {}
): IModelReadiness {
  const score = Math.min(...Object.values(sections));
  return {
    model,
    version: '1',
    serves: true,
    score,
    level: 'More of a research project',
    sections,
    tests: Object.entries(steps).map(([id, step]) => ({
      id,
      section: id.split('-')[0] as IModelReadiness['tests'][number]['section'],
      title: `test ${id}`,
      status: step ? 'missing' : 'not assessable',
      points: 0,
      evidence: [],
      next_step: step
    }))
  };
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

describe('readiness', () => {
  it('is folded by default and asked for only once opened', async () => {
    server.readiness = readinessOf([
      modelOf('churn', { data: 2, model: 1, infrastructure: 3, monitoring: 1 })
    ]);
    await panel.refresh();
    expect(panel.isOpen('readiness')).toBe(false);
    expect(server.log).not.toContain('GET readiness');
    panel.toggleSection('readiness');
    await settle();
    expect(server.log).toContain('GET readiness');
    expect(panel.readiness.project).toEqual({
      score: 1,
      level: 'More of a research project',
      models: 1
    });
    expect(panel.readiness.items.map(r => [r.model, r.score])).toEqual([
      ['churn', 1]
    ]);
  });

  it('shows the weakest section (first on a tie) and only its next steps', () => {
    const row = readinessRow(
      modelOf(
        'churn',
        { data: 1, model: 0.5, infrastructure: 2, monitoring: 0.5 },
        {
          'data-1': 'nbops gate run data_validation --model models:/churn/1',
          'model-1': null,
          'model-5': 'under [tool.nbops.policy]: champion = ["performance"]',
          'monitoring-4': 'nbops review churn'
        }
      )
    );
    expect(row.weakest).toBe('model');
    expect(row.nextSteps).toEqual([
      {
        test: 'model-5',
        title: 'test model-5',
        step: 'under [tool.nbops.policy]: champion = ["performance"]'
      }
    ]);
    expect(
      weakestSection({ data: 0, model: 0, infrastructure: 0, monitoring: 0 })
    ).toBe('data');
  });

  it('lists the weakest models first, then by name', () => {
    const rows = readinessRows(
      readinessOf([
        modelOf('b', { data: 2, model: 2, infrastructure: 2, monitoring: 2 }),
        modelOf('z', { data: 1, model: 2, infrastructure: 2, monitoring: 2 }),
        modelOf('a', { data: 2, model: 2, infrastructure: 2, monitoring: 2 })
      ])
    );
    expect(rows.map(r => r.model)).toEqual(['z', 'a', 'b']);
  });

  it('keeps what it showed when a refresh fails, with the error', async () => {
    server.readiness = readinessOf([
      modelOf('churn', { data: 1, model: 1, infrastructure: 1, monitoring: 1 })
    ]);
    await panel.readiness.refresh();
    server.failures.readiness = httpError(404, {
      message: "no registered model named 'x'; GET models lists them.",
      error: 'NotFound'
    });
    expect(await panel.readiness.refresh()).toBe('error');
    expect(panel.readiness.items.map(r => r.model)).toEqual(['churn']);
    expect(panel.readiness.error?.message).toContain('no registered model');
  });
});
