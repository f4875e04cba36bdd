import { nullTranslator } from '@jupyterlab/translation';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { IPromptUsage } from '../api';
import { PanelModel } from '../model/panel';
import { defaultDiffPair, lineKind } from '../model/promptsdiff';
import {
  choiceKey,
  choiceOf,
  defaultUsageChoice,
  lastWindow,
  usageCharts,
  usageChoices
} from '../model/promptsusage';
import { requestAPI } from '../request';
import { FakeServer, promptOf, promptVersionOf } from './fakeserver';

vi.mock('../request', async importOriginal => ({
  ...(await importOriginal<typeof import('../request')>()),
  requestAPI: vi.fn()
}));

const trans = nullTranslator.load('nbops');

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

function series(values: number[]): IPromptUsage['series'][string] {
  return values.map((value, index) => ({
    step: index + 1,
    timestamp: Date.UTC(2026, 0, index + 1),
    value
  }));
}

const VERSIONS = [
  promptVersionOf(3, 'c', ['staging']),
  promptVersionOf(2, 'b', ['production']),
  promptVersionOf(1, 'a')
];

describe('the default diff', () => {
  it('compares a version with the one before it, the first with the next', () => {
    expect(defaultDiffPair(VERSIONS)).toEqual({ from: '2', to: '3' });
    expect(defaultDiffPair(VERSIONS, '2')).toEqual({ from: '1', to: '2' });
    expect(defaultDiffPair(VERSIONS, '1')).toEqual({ from: '1', to: '2' });
    expect(defaultDiffPair([VERSIONS[2]])).toBeNull();
    expect(defaultDiffPair(VERSIONS, '9')).toBeNull();
  });

  it('names each line by its mark, not its colour', () => {
    const line = { text: 'x', old: null, new: 1 };
    expect(lineKind({ ...line, op: '+' })).toBe('added');
    expect(lineKind({ ...line, op: '-' })).toBe('removed');
    expect(lineKind({ ...line, op: ' ' })).toBe('kept');
  });
});

describe('usage', () => {
  it('is offered for production first, then other aliases, then versions', () => {
    expect(usageChoices(VERSIONS).map(c => c.key)).toEqual([
      'alias:production',
      'alias:staging',
      'version:3',
      'version:2',
      'version:1'
    ]);
    expect(defaultUsageChoice(VERSIONS)).toEqual({ alias: 'production' });
    expect(defaultUsageChoice([promptVersionOf(1, 'a')])).toEqual({
      version: '1'
    });
    expect(defaultUsageChoice([])).toBeNull();
    expect(choiceOf(choiceKey({ alias: 'prod-2' }))).toEqual({
      alias: 'prod-2'
    });
    expect(choiceOf('version:')).toBeNull();
  });

  it('charts calls, tokens in and out, cost per 1,000 calls and p95 latency by window', () => {
    const usage: IPromptUsage = {
      prompt: 'answer',
      version: '2',
      alias: 'production',
      series: {
        'llm.calls': series([3, 2]),
        'llm.tokens_in': series([21, 14]),
        'llm.tokens_out': series([33, 22]),
        'llm.cost_per_1k_calls': series([0.08, 0.08]),
        'llm.latency_p95_ms': series([1.5, 2.25]),
        'llm.errors': series([0, 0])
      }
    };
    const charts = usageCharts(usage, trans);
    expect(charts.map(c => c.id)).toEqual([
      'calls',
      'tokens',
      'cost',
      'latency'
    ]);
    const tokens = charts[1].data;
    expect(tokens.lines.map(l => [l.series, l.batch, l.value])).toEqual([
      ['in', 1, 21],
      ['in', 2, 14],
      ['out', 1, 33],
      ['out', 2, 22]
    ]);
    expect(tokens.summary).toBe('Window 2: in 14, out 22.');
    expect(tokens.labels.batch).toBe('window');
    expect(tokens.lines[0].time).toBe('2026-01-01T00:00:00.000Z');
    expect(charts[3].data.kind).toBe('latency');
    expect(lastWindow(usage)).toBe(2);

    // Before the first window: no chart, and no last window.
    const none = { ...usage, series: {} };
    expect(usageCharts(none, trans)).toEqual([]);
    expect(lastWindow(none)).toBeNull();
  });
});

describe('the prompts section', () => {
  let server: FakeServer;
  let panel: PanelModel;

  beforeEach(() => {
    server = new FakeServer();
    vi.mocked(requestAPI).mockImplementation(server.request);
    panel = new PanelModel();
    server.prompts = [
      { ...promptOf('answer'), aliases: { production: '1' } },
      promptOf('summary')
    ];
    server.promptVersions = {
      answer: [
        promptVersionOf(2, 'Answer {{question}} in {{language}}.'),
        promptVersionOf(1, 'Answer {{question}}.', ['production'])
      ],
      summary: [promptVersionOf(1, 'Summarise {{text}}.')]
    };
    server.promptUsage = { answer: { 'llm.calls': series([3, 2]) } };
  });

  afterEach(() => {
    panel.dispose();
  });

  it('show the aliases of a folded prompt from its row', async () => {
    panel.toggleSection('prompts');
    await settle();
    expect(panel.prompts.isExpanded('answer')).toBe(false);
    expect(panel.prompts.aliasesOf('answer')).toEqual({ production: '1' });
    expect(panel.prompts.aliasesOf('summary')).toEqual({});
    expect(server.log).not.toContain('GET prompts/answer/versions');
  });

  it('read the usage of the production version once expanded, and another on choice', async () => {
    await panel.prompts.toggle('answer');
    expect(server.requests.find(r => r.path.endsWith('/usage'))).toMatchObject({
      path: 'prompts/answer/usage',
      query: { alias: 'production' }
    });
    const usage = panel.prompts.usageOf('answer');
    expect(usage?.choice).toEqual({ alias: 'production' });
    expect(usage?.usage?.version).toBe('1');
    expect(usage?.usage?.series['llm.calls'].map(p => p.value)).toEqual([3, 2]);

    await panel.prompts.showUsage('answer', { version: '2' });
    expect(server.requests[server.requests.length - 1]).toMatchObject({
      path: 'prompts/answer/usage',
      query: { version: '2' }
    });
    expect(panel.prompts.usageOf('answer')?.usage?.version).toBe('2');

    await panel.prompts.showUsage('answer', { alias: 'staging' });
    expect(panel.prompts.usageOf('answer')?.error?.message).toContain(
      "has no alias 'staging'"
    );
  });

  it('compare a version with the one before it, or two chosen versions', async () => {
    const diff = {
      prompt: 'answer',
      from_version: '1',
      to_version: '2',
      chat: false,
      added: 1,
      removed: 1,
      blocks: [
        {
          role: null,
          old_role: null,
          change: 'changed' as const,
          lines: [
            {
              op: '-' as const,
              text: 'Answer {{question}}.',
              old: 1,
              new: null
            },
            {
              op: '+' as const,
              text: 'Answer {{question}} in {{language}}.',
              old: null,
              new: 1
            }
          ]
        }
      ]
    };
    server.promptDiffs = { 'answer 1 2': diff };
    await panel.prompts.toggle('answer');
    await panel.prompts.showDiff('answer', undefined, '2');
    expect(server.requests[server.requests.length - 1]).toMatchObject({
      path: 'prompts/answer/diff',
      query: { from: '1', to: '2' }
    });
    expect(panel.prompts.diffOf('answer')).toEqual({
      from: '1',
      to: '2',
      diff,
      error: null
    });

    await panel.prompts.showDiff('answer', '2', '1');
    const reversed = panel.prompts.diffOf('answer');
    expect([reversed?.from, reversed?.to, reversed?.diff]).toEqual([
      '2',
      '1',
      null
    ]);
    expect(reversed?.error?.message).toContain('has no version 1');

    panel.prompts.closeDiff('answer');
    expect(panel.prompts.diffOf('answer')).toBeNull();
  });
});
