/**
 * An in-memory stand-in for nbops' REST API, answering `requestAPI` the way
 * the server extension does (paths, query names, pages, JSON errors). The
 * unit tests run without a Jupyter server; the real one is exercised by the
 * browser tests in ui-tests/.
 */

import {
  IAlert,
  IAuditEvent,
  IDeployment,
  IReadiness,
  IModelReadiness,
  IPromptDiff,
  IPromptSummary,
  IPromptUsage,
  IPromptVersion,
  IModelSummary,
  IMonitoringSeries,
  IRun,
  IVersionDetail,
  IVersionSummary
} from '../api';
import { NbopsResponseError } from '../request';

/**
 * One request as the fake server saw it.
 */
export interface IRequest {
  method: string;
  path: string;
  query: { [key: string]: string };
  body: any;
}

export const STORE = 'sqlite:////home/ada/project/.nbops/mlflow.db';

export function run(index: number): IRun {
  return {
    run_id: `run${index}`,
    run_name: `run-${index}`,
    status: 'FINISHED',
    start_time: 1_700_000_000_000 + index * 1000,
    end_time: 1_700_000_000_500 + index * 1000,
    duration_ms: 500,
    experiment_id: '1',
    experiment_name: 'demo'
  };
}

export function model(
  name: string,
  versions: number,
  aliases: { [alias: string]: string } = {}
): IModelSummary {
  return {
    name,
    description: '',
    aliases,
    latest_version: versions ? String(versions) : null,
    versions_count: versions,
    gates: {},
    required_gates: {},
    open_alerts: 0,
    updated: 1_700_000_000_000
  };
}

export function versionSummary(version: number): IVersionSummary {
  return {
    version: String(version),
    aliases: [],
    status: 'READY',
    run_id: `run${version}`,
    created: 1_700_000_000_000,
    updated: 1_700_000_000_000,
    description: '',
    gates: {}
  };
}

export function versionDetail(name: string, version: string): IVersionDetail {
  return {
    model: name,
    version,
    status: 'READY',
    description: '',
    created: 1_700_000_000_000,
    updated: 1_700_000_000_000,
    run_id: null,
    aliases: [],
    rollback: {},
    deploy: null,
    lineage: {
      notebook: null,
      cell_sha256: null,
      git: { commit: null, branch: null, dirty: false },
      python: null,
      requirements: [],
      source_run: null,
      datasets: []
    },
    metrics: { accuracy: 0.9 },
    params: {},
    gates: {},
    policy: {},
    reproduction: null,
    card_html: '<p>card</p>'
  };
}

export function alertOf(
  id: string,
  severity: string,
  opened_at: string,
  extra: Partial<IAlert> = {}
): IAlert {
  return {
    id,
    state: 'open',
    rule: `rule-${id}`,
    model: 'churn',
    version: '2',
    metric: 'drift.share',
    op: '>=',
    threshold: 0.3,
    severity,
    message: '',
    opened_at,
    deliveries: [],
    ...extra
  };
}

export function deploymentOf(
  id: string,
  status: 'live' | 'stale' | 'stopped',
  extra: Partial<IDeployment> = {}
): IDeployment {
  return {
    id,
    model: 'churn',
    alias: 'champion',
    version: '2',
    url: 'http://127.0.0.1:5001',
    host: 'box',
    pid: '42',
    status,
    canary: {},
    shadow: null,
    stats: {},
    started: 1_700_000_000,
    heartbeat: 1_700_000_010,
    heartbeat_age: 1,
    heartbeat_seconds: 10,
    stopped: null,
    ...extra
  };
}

export function promptOf(name: string): IPromptSummary {
  return {
    name,
    description: '',
    created: 1_700_000_000_000,
    tags: {},
    aliases: {}
  };
}

export function promptVersionOf(
  version: number,
  template: string,
  aliases: string[] = []
): IPromptVersion {
  return {
    version: String(version),
    aliases,
    chat: false,
    template,
    variables: [],
    message: '',
    created: 1_700_000_000_000,
    content_hash: 'h' + version,
    gates: {},
    tags: {},
    evaluation: null
  };
}

/**
 * A non-2xx answer, as `requestAPI` throws it.
 */
export function httpError(
  status: number,
  body: { message: string; error: string; [key: string]: unknown }
): NbopsResponseError {
  const response = new Response(JSON.stringify(body), { status });
  return new NbopsResponseError(response, body.message, body);
}

function page<T>(
  items: T[],
  query: { [key: string]: string }
): { items: T[]; next_page_token: string | null } {
  const start = Number(query.page_token ?? 0);
  const end = start + Number(query.max_results ?? 50);
  return {
    items: items.slice(start, end),
    next_page_token: end < items.length ? String(end) : null
  };
}

/**
 * An assessment of `models` (as `nbops assess --json` writes it).
 */
export function readinessOf(models: IModelReadiness[]): IReadiness {
  const score = models.length ? Math.min(...models.map(m => m.score)) : null;
  return {
    schema: 'nbops.assess/1',
    nbops_version: '0.1.0',
    generated: '2026-03-04T05:06:07Z',
    rubric: 'The ML Test Score',
    serving_alias: 'champion',
    project: {
      models: models.length,
      score,
      level: score === null ? null : 'More of a research project',
      weakest: models.filter(m => m.score === score).map(m => m.model),
      counts: { automated: 0, 'by hand': 0, missing: 0, 'not assessable': 0 },
      audit: { intact: true, events: 0, problems: [] },
      review_every: null
    },
    models
  };
}

export class FakeServer {
  runs: IRun[] = [];
  models: IModelSummary[] = [];
  versions: { [model: string]: IVersionSummary[] } = {};
  series: IMonitoringSeries = {};
  alerts: IAlert[] = [];
  events: IAuditEvent[] = [];
  deployments: IDeployment[] = [];
  /** The assessment `GET readiness` answers. */
  readiness: IReadiness = readinessOf([]);
  prompts: IPromptSummary[] = [];
  promptVersions: { [name: string]: IPromptVersion[] } = {};
  /** The usage windows of each prompt (whatever alias or version is asked). */
  promptUsage: { [name: string]: IPromptUsage['series'] } = {};
  /** Diffs by `name from to`; another pair is a 404. */
  promptDiffs: { [key: string]: IPromptDiff } = {};
  /** Gates the policy requires per alias (a promotion without them is a 409). */
  missingGates: { [alias: string]: string[] } = {};
  /** Answers to throw instead, by path (`models`, `alerts`, ...). */
  failures: { [path: string]: Error } = {};
  /** Paths whose answers wait until `release(path)`. */
  held = new Set<string>();
  requests: IRequest[] = [];

  /**
   * The request paths, in order (`GET models`, `POST models/a/promote`).
   */
  get log(): string[] {
    return this.requests.map(request => `${request.method} ${request.path}`);
  }

  /**
   * Let the held answers of `path` go.
   */
  release(path: string): void {
    this.held.delete(path);
    for (const waiter of this._waiters.splice(0)) {
      waiter();
    }
  }

  /**
   * `requestAPI`, answered here.
   */
  request = async (endPoint = '', init: RequestInit = {}): Promise<any> => {
    const [path, search = ''] = endPoint.split('?');
    const query: { [key: string]: string } = {};
    new URLSearchParams(search).forEach((value, key) => {
      query[key] = value;
    });
    const method = init.method ?? 'GET';
    const body = init.body ? JSON.parse(String(init.body)) : null;
    this.requests.push({ method, path, query, body });
    while (this.held.has(path)) {
      await new Promise<void>(resolve => this._waiters.push(resolve));
    }
    const failure = this.failures[path];
    if (failure) {
      throw failure;
    }
    return this._answer(method, path.split('/').map(decodeURIComponent), {
      query,
      body
    });
  };

  private _answer(
    method: string,
    segments: string[],
    { query, body }: { query: { [key: string]: string }; body: any }
  ): unknown {
    const [root, name, sub, version, leaf] = segments;
    switch (root) {
      case 'status':
        return {
          version: '0.1.0',
          store: STORE,
          store_source: 'default',
          project_root: '/home/ada/project'
        };
      case 'runs': {
        const { items, next_page_token } = page(this.runs, query);
        return { runs: items, next_page_token, store: STORE };
      }
      case 'alerts':
        return this.alerts.filter(
          alert => alert.state === (query.state ?? 'open')
        );
      case 'audit': {
        const { items, next_page_token } = page(this.events, query);
        return { events: items, total: this.events.length, next_page_token };
      }
      case 'deployments':
        return name !== undefined || query.stopped === 'true'
          ? this.deployments
          : this.deployments.filter(d => d.status !== 'stopped');
      case 'readiness':
        return this.readiness;
      case 'prompts':
        return this._prompts(method, name, sub, query, body);
      case 'models':
        break;
      default:
        throw httpError(404, { message: 'Not Found', error: 'HTTPError' });
    }
    if (name === undefined) {
      const filter = (query.filter ?? '').toLowerCase();
      const matching = this.models.filter(m =>
        m.name.toLowerCase().includes(filter)
      );
      const { items, next_page_token } = page(matching, query);
      return { models: items, total: matching.length, next_page_token };
    }
    const summary = this.models.find(m => m.name === name);
    if (!summary) {
      throw httpError(404, {
        message: `No model named ${name}.`,
        error: 'NotFound'
      });
    }
    if (method === 'POST') {
      return this._changeAlias(summary, sub, body);
    }
    if (version === undefined) {
      const all = this.versions[name] ?? [];
      const { items, next_page_token } = page(all, query);
      return {
        model: name,
        versions: items,
        total: all.length,
        next_page_token
      };
    }
    return leaf === 'monitoring' ? this.series : versionDetail(name, version);
  }

  private _prompts(
    method: string,
    name: string | undefined,
    sub: string | undefined,
    query: { [key: string]: string },
    body: any
  ): unknown {
    if (name === undefined) {
      const { items, next_page_token } = page(this.prompts, query);
      return { prompts: items, total: this.prompts.length, next_page_token };
    }
    const versions = this.promptVersions[name];
    if (!versions) {
      throw httpError(404, {
        message: `no prompt named '${name}'`,
        error: 'NotFound'
      });
    }
    if (sub === 'usage') {
      const version =
        query.version ??
        versions.find(v => v.aliases.includes(query.alias))?.version;
      if (!version) {
        throw httpError(404, {
          message: `prompt '${name}' has no alias '${query.alias}'`,
          error: 'NotFound'
        });
      }
      const series = this.promptUsage[name] ?? {};
      return { prompt: name, version, alias: query.alias ?? null, series };
    }
    if (sub === 'diff') {
      const diff = this.promptDiffs[`${name} ${query.from} ${query.to}`];
      if (!diff) {
        throw httpError(404, {
          message: `prompt '${name}' has no version ${query.to}`,
          error: 'NotFound'
        });
      }
      return diff;
    }
    if (method === 'POST') {
      const alias = body.alias;
      const holder = versions.find(v => v.aliases.includes(alias));
      const from = holder?.version ?? null;
      for (const v of versions) {
        v.aliases = v.aliases.filter(a => a !== alias);
      }
      if (sub === 'promote') {
        versions
          .find(v => v.version === String(body.version))
          ?.aliases.push(alias);
      }
      const aliases: { [alias: string]: string } = {};
      for (const v of versions) {
        for (const a of v.aliases) {
          aliases[a] = v.version;
        }
      }
      return {
        model: `prompts:/${name}`,
        alias,
        from_version: from,
        to_version: aliases[alias] ?? null,
        seq: 1,
        aliases
      };
    }
    const { items, next_page_token } = page(versions, query);
    return { versions: items, total: versions.length, next_page_token };
  }

  private _changeAlias(
    summary: IModelSummary,
    action: string,
    body: { version?: string; alias?: string; reason: string }
  ): unknown {
    const alias = body.alias ?? 'champion';
    const from = summary.aliases[alias] ?? null;
    if (action === 'promote') {
      const missing = this.missingGates[alias] ?? [];
      if (missing.length) {
        throw httpError(409, {
          message: `Promotion to ${alias} refused: gates have not passed.`,
          error: 'PolicyError',
          missing_gates: missing
        });
      }
      summary.aliases = { ...summary.aliases, [alias]: String(body.version) };
    } else {
      const rest = { ...summary.aliases };
      delete rest[alias];
      summary.aliases = rest;
    }
    return {
      model: summary.name,
      alias,
      from_version: from,
      to_version: summary.aliases[alias] ?? null,
      seq: this.events.length + 1,
      aliases: summary.aliases
    };
  }

  private _waiters: (() => void)[] = [];
}
