import { URLExt } from '@jupyterlab/coreutils';

import { requestAPI } from './request';

/**
 * A run as listed by `GET /nbops/api/runs`.
 */
export interface IRun {
  run_id: string;
  run_name: string | null;
  /** MLflow run status: RUNNING, SCHEDULED, FINISHED, FAILED or KILLED. */
  status: string;
  /** Epoch milliseconds. */
  start_time: number | null;
  /** Epoch milliseconds; null while the run is still running. */
  end_time: number | null;
  /** null while the run is still running. */
  duration_ms: number | null;
  experiment_id: string;
  experiment_name: string | null;
}

/**
 * One page of runs, as answered by `GET /nbops/api/runs`.
 */
export interface IRunsPage {
  runs: IRun[];
  /** Token for the next page; null on the last page. */
  next_page_token: string | null;
  /** The tracking store the server reads, e.g. `sqlite:///…/mlflow.db`. */
  store: string;
}

/**
 * A function fetching one page of runs.
 */
export type FetchRuns = (
  maxResults: number,
  pageToken?: string | null
) => Promise<IRunsPage>;

/**
 * The verdict a gate left on a version (`nbops.gate.<gate>` tag).
 */
export type GateResult = 'passed' | 'failed' | 'error' | string;

/**
 * A registered model as listed by `GET /nbops/api/models`.
 */
export interface IModelSummary {
  name: string;
  description: string;
  /** Alias → version number. */
  aliases: { [alias: string]: string };
  latest_version: string | null;
  versions_count: number;
  /** Version → gate → result, for the latest version and every alias holder. */
  gates: { [version: string]: { [gate: string]: GateResult } };
  /** Alias → the gates the promotion policy requires (aliases without any left out). */
  required_gates: { [alias: string]: string[] };
  open_alerts: number;
  /** Epoch milliseconds of the last change. */
  updated: number | null;
}

export interface IModelsPage {
  models: IModelSummary[];
  total: number;
  next_page_token: string | null;
}

/**
 * A model version as listed by `GET /nbops/api/models/{name}/versions`.
 */
export interface IVersionSummary {
  version: string;
  aliases: string[];
  status: string;
  run_id: string | null;
  created: number | null;
  updated: number | null;
  description: string;
  gates: { [gate: string]: GateResult };
}

export interface IVersionsPage {
  model: string;
  versions: IVersionSummary[];
  total: number;
  next_page_token: string | null;
}

/**
 * One gate's verdict on a version, with the gate run and its time.
 */
export interface IGateDetail {
  result: GateResult;
  run_id: string | null;
  time: string | null;
}

export interface ISourceRun {
  run_id: string;
  run_name: string | null;
  experiment_id: string;
  status: string;
  start_time: number | null;
  end_time: number | null;
}

export interface IDatasetRef {
  name: string;
  context: string;
  shape: string;
  sha256: string;
}

export interface ILineage {
  notebook: string | null;
  cell_sha256: string | null;
  git: { commit: string | null; branch: string | null; dirty: boolean };
  python: string | null;
  requirements: string[];
  source_run: ISourceRun | null;
  datasets: IDatasetRef[];
}

/**
 * Everything the sidebar shows of one version:
 * `GET /nbops/api/models/{name}/versions/{version}`.
 */
export interface IVersionDetail {
  model: string;
  version: string;
  status: string;
  description: string;
  created: number | null;
  updated: number | null;
  run_id: string | null;
  aliases: string[];
  /** Per alias this version holds: the version a rollback restores, or null when there is none. */
  rollback?: { [alias: string]: string | null };
  lineage: ILineage;
  metrics: { [key: string]: number };
  params: { [key: string]: string };
  gates: { [gate: string]: IGateDetail };
  /** Alias → the gates it requires and those this version has not passed. */
  policy: { [alias: string]: { required: string[]; missing: string[] } };
  /** The model card as HTML, sanitised by the server. */
  card_html: string;
}

/**
 * One monitoring batch's value of a metric.
 */
export interface IPoint {
  /** The batch number. */
  step: number;
  /** Epoch milliseconds of the batch. */
  timestamp: number;
  value: number;
}

/**
 * Metric → its points by batch.
 */
export interface IMonitoringSeries {
  [metric: string]: IPoint[];
}

/**
 * A monitoring alert as listed by `GET /nbops/api/alerts`.
 */
export interface IAlert {
  id: string;
  rule: string;
  model: string;
  version: string;
  metric: string;
  op: string;
  threshold: number;
  severity: string;
  state: string;
  value?: number | string;
  window?: number;
  opened_at?: string;
  opened_batch?: number;
  resolved_at?: string;
  resolved_batch?: number;
  message?: string;
  /** `succeeded` or `failed` once a retraining the rule started is over. */
  retrain_state?: string;
  retrain_error?: string;
  /** The version the retraining registered. */
  challenger_version?: string;
  /** The challenger's gates: `passed`, `failed` or `none required`. */
  gates?: string;
  /** `true` when the challenger was promoted to champion automatically. */
  promoted?: string;
  [other: string]: unknown;
}

/**
 * A registry change in the audit log.
 */
export interface IAuditEvent {
  seq: number;
  time: string;
  actor: string;
  action: string;
  model: string | null;
  version: string | null;
  alias: string | null;
  from_version: string | null;
  to_version: string | null;
  reason: string | null;
  source: string | null;
  details: { [key: string]: string };
  summary?: string;
}

export interface IAuditPage {
  events: IAuditEvent[];
  total: number;
  next_page_token: string | null;
}

/**
 * What `promote` and `rollback` answer: the change, and every alias now.
 */
export interface IAliasChange {
  aliases: { [alias: string]: string };
  [other: string]: unknown;
}

/**
 * `GET /nbops/api/status`.
 */
export interface IStatus {
  version: string;
  /** The tracking store the server reads (without its password). */
  store: string;
  store_source: string;
  project_root: string;
}

/**
 * Every call the sidebar makes; tests may replace any of them.
 */
export interface INbopsApi {
  status(): Promise<IStatus>;
  runs: FetchRuns;
  models(
    maxResults: number,
    pageToken?: string | null,
    filter?: string
  ): Promise<IModelsPage>;
  versions(
    name: string,
    maxResults: number,
    pageToken?: string | null
  ): Promise<IVersionsPage>;
  version(name: string, version: string): Promise<IVersionDetail>;
  monitoring(
    name: string,
    version: string,
    metrics: string[]
  ): Promise<IMonitoringSeries>;
  alerts(state: 'open' | 'resolved', model?: string): Promise<IAlert[]>;
  audit(
    maxResults: number,
    pageToken?: string | null,
    model?: string
  ): Promise<IAuditPage>;
  promote(
    name: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IAliasChange>;
  rollback(name: string, alias: string, reason: string): Promise<IAliasChange>;
}

/**
 * `path?query` with the query's empty values left out.
 */
function withQuery(
  path: string,
  query: { [key: string]: string | number | null | undefined }
): string {
  const kept: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') {
      kept[key] = String(value);
    }
  }
  return path + URLExt.objectToQueryString(kept);
}

/**
 * `models/<name>`, the name encoded as one URL segment.
 */
function modelPath(name: string, ...rest: string[]): string {
  return ['models', encodeURIComponent(name), ...rest].join('/');
}

function post<T>(path: string, body: unknown): Promise<T> {
  return requestAPI<T>(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  });
}

/**
 * Fetch one page of the most recent runs from the nbops server extension.
 */
export const fetchRuns: FetchRuns = (maxResults, pageToken) =>
  requestAPI<IRunsPage>(
    withQuery('runs', { max_results: maxResults, page_token: pageToken }),
    { method: 'GET' }
  );

/**
 * The nbops REST API under `<base_url>/nbops/api/`.
 */
export const nbopsApi: INbopsApi = {
  status: () => requestAPI<IStatus>('status'),
  runs: fetchRuns,
  models: (maxResults, pageToken, filter) =>
    requestAPI<IModelsPage>(
      withQuery('models', {
        max_results: maxResults,
        page_token: pageToken,
        filter
      })
    ),
  versions: (name, maxResults, pageToken) =>
    requestAPI<IVersionsPage>(
      withQuery(modelPath(name, 'versions'), {
        max_results: maxResults,
        page_token: pageToken
      })
    ),
  version: (name, version) =>
    requestAPI<IVersionDetail>(
      modelPath(name, 'versions', encodeURIComponent(version))
    ),
  monitoring: (name, version, metrics) =>
    requestAPI<IMonitoringSeries>(
      withQuery(
        modelPath(name, 'versions', encodeURIComponent(version), 'monitoring'),
        { metrics: metrics.join(',') }
      )
    ),
  alerts: (state, model) =>
    requestAPI<IAlert[]>(withQuery('alerts', { state, model })),
  audit: (maxResults, pageToken, model) =>
    requestAPI<IAuditPage>(
      withQuery('audit', {
        max_results: maxResults,
        page_token: pageToken,
        model
      })
    ),
  promote: (name, version, alias, reason) =>
    post<IAliasChange>(modelPath(name, 'promote'), { version, alias, reason }),
  rollback: (name, alias, reason) =>
    post<IAliasChange>(modelPath(name, 'rollback'), { alias, reason })
};
