import { URLExt } from '@jupyterlab/coreutils';

import type { components, paths } from './api.gen';
import { requestAPI } from './request';

/**
 * The REST API's types. They come from the server's OpenAPI file through
 * `api.gen.ts` (regenerate it with `jlpm run api:types`), so that a change of
 * the API shows here as a type error rather than as a blank in the sidebar.
 */
type Schemas = components['schemas'];

/**
 * The JSON body of an operation's 200 answer.
 */
type Answer<
  Path extends keyof paths,
  Method extends 'get' | 'post'
> = paths[Path][Method] extends {
  responses: { 200: { content: { 'application/json': infer Body } } };
}
  ? Body
  : never;

/**
 * The query parameters of an operation.
 */
type Query<Path extends keyof paths> = paths[Path]['get'] extends {
  parameters: { query?: infer Params };
}
  ? NonNullable<Params>
  : never;

/**
 * The JSON body an operation takes.
 */
type RequestBody<Path extends keyof paths> = paths[Path]['post'] extends {
  requestBody: { content: { 'application/json': infer Body } };
}
  ? Body
  : never;

/**
 * A run as listed by `GET /nbops/api/runs`.
 */
export type IRun = Schemas['Run'];

/**
 * One page of runs, as answered by `GET /nbops/api/runs`.
 */
export type IRunsPage = Answer<'/runs', 'get'>;

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
export type GateResult = Schemas['GateResults'][string];

/**
 * A registered model as listed by `GET /nbops/api/models`.
 */
export type IModelSummary = Schemas['ModelSummary'];

export type IModelsPage = Answer<'/models', 'get'>;

/**
 * A model version as listed by `GET /nbops/api/models/{name}/versions`.
 */
export type IVersionSummary = Schemas['VersionSummary'];

export type IVersionsPage = Answer<'/models/{name}/versions', 'get'>;

/**
 * Everything the sidebar shows of one version:
 * `GET /nbops/api/models/{name}/versions/{version}`.
 */
export type IVersionDetail = Schemas['VersionDetail'];

export type ILineage = IVersionDetail['lineage'];

/**
 * One gate's verdict on a version, with the gate run and its time.
 */
export type IGateDetail = IVersionDetail['gates'][string];

/**
 * Metric → its points by batch:
 * `GET /nbops/api/models/{name}/versions/{version}/monitoring`.
 */
export type IMonitoringSeries = Answer<
  '/models/{name}/versions/{version}/monitoring',
  'get'
>;

/**
 * One monitoring batch's value of a metric.
 */
export type IPoint = IMonitoringSeries[string][number];

/**
 * A monitoring alert as listed by `GET /nbops/api/alerts`, with what a
 * retraining started by its rule adds (`retrain_state`, the challenger, its
 * gates, the promotion).
 */
export type IAlert = Schemas['Alert'];

/**
 * One notification channel's latest outcome for an alert's opening or
 * resolution.
 */
export type IDelivery = Schemas['Delivery'];

/**
 * A model server as listed by `GET /nbops/api/deployments`.
 */
export type IDeployment = Schemas['Deployment'];

/**
 * One server's traffic over time and its canary so far
 * (`GET /nbops/api/deployments/{id}/traffic`).
 */
export type IDeploymentTraffic = Schemas['DeploymentTraffic'];

/**
 * A canary's state as its server recorded it.
 */
export type ICanaryState = Schemas['CanaryState'];

/**
 * What ending a canary (promote or abort) answers.
 */
export type ICanaryEnding = Schemas['CanaryEnding'];

/**
 * A prompt as listed by `GET /nbops/api/prompts`.
 */
export type IPromptSummary = Schemas['PromptSummary'];

export type IPromptsPage = Answer<'/prompts', 'get'>;

/**
 * A prompt version as listed by `GET /nbops/api/prompts/{name}/versions`.
 */
export type IPromptVersion = Schemas['PromptVersion'];

export type IPromptVersionsPage = Answer<'/prompts/{name}/versions', 'get'>;

/**
 * A line diff of two versions of a prompt:
 * `GET /nbops/api/prompts/{name}/diff?from=&to=`.
 */
export type IPromptDiff = Schemas['PromptDiff'];

/**
 * The logged LLM windows of the version an alias holds:
 * `GET /nbops/api/prompts/{name}/usage`.
 */
export type IPromptUsage = Answer<'/prompts/{name}/usage', 'get'>;

/**
 * The latest reproduction verdict on a version (null: never reproduced).
 */
export type IReproduction = NonNullable<IVersionDetail['reproduction']>;

/**
 * The readiness assessment (`nbops assess --json`):
 * `GET /nbops/api/readiness`.
 */
export type IReadiness = Schemas['Readiness'];

/**
 * One model's score on the ML Test Score, per section and per test.
 */
export type IModelReadiness = Schemas['ModelReadiness'];

/**
 * A registry change in the audit log.
 */
export type IAuditEvent = Schemas['AuditEvent'];

export type IAuditPage = Answer<'/audit', 'get'>;

/**
 * What `promote` and `rollback` answer: the change, and every alias now.
 */
export type IAliasChange = Schemas['AliasChange'];

/**
 * `GET /nbops/api/status`.
 */
export type IStatus = Answer<'/status', 'get'>;

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
  deployments(): Promise<IDeployment[]>;
  deploymentTraffic(id: string): Promise<IDeploymentTraffic>;
  promoteCanary(name: string, reason: string): Promise<ICanaryEnding>;
  abortCanary(name: string, reason: string): Promise<ICanaryEnding>;
  readiness(model?: string): Promise<IReadiness>;
  prompts(maxResults: number, pageToken?: string | null): Promise<IPromptsPage>;
  promptVersions(
    name: string,
    maxResults: number,
    pageToken?: string | null
  ): Promise<IPromptVersionsPage>;
  promptDiff(name: string, from: string, to: string): Promise<IPromptDiff>;
  promptUsage(
    name: string,
    which: { alias: string } | { version: string }
  ): Promise<IPromptUsage>;
  promotePrompt(
    name: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IAliasChange>;
  rollbackPrompt(
    name: string,
    alias: string,
    reason: string
  ): Promise<IAliasChange>;
}

/**
 * `path?query` with the query's empty values left out; the names are the
 * OpenAPI file's.
 */
function withQuery<Params extends object>(
  path: string,
  query: { [key in keyof Params]: Params[key] | null | undefined }
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

/**
 * `prompts/<name>`, the name encoded as one URL segment.
 */
function promptPath(name: string, ...rest: string[]): string {
  return ['prompts', encodeURIComponent(name), ...rest].join('/');
}

/**
 * POST a JSON body (typed by the OpenAPI file) to `path`.
 */
function post<Path extends keyof paths>(
  path: string,
  body: RequestBody<Path>
): Promise<Answer<Path, 'post'>> {
  return requestAPI<Answer<Path, 'post'>>(path, {
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
    withQuery<Query<'/runs'>>('runs', {
      max_results: maxResults,
      page_token: pageToken
    }),
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
      withQuery<Query<'/models'>>('models', {
        max_results: maxResults,
        page_token: pageToken,
        filter
      })
    ),
  versions: (name, maxResults, pageToken) =>
    requestAPI<IVersionsPage>(
      withQuery<Query<'/models/{name}/versions'>>(modelPath(name, 'versions'), {
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
      withQuery<Query<'/models/{name}/versions/{version}/monitoring'>>(
        modelPath(name, 'versions', encodeURIComponent(version), 'monitoring'),
        { metrics: metrics.join(',') }
      )
    ),
  alerts: (state, model) =>
    requestAPI<IAlert[]>(
      withQuery<Query<'/alerts'>>('alerts', { state, model })
    ),
  audit: (maxResults, pageToken, model) =>
    requestAPI<IAuditPage>(
      withQuery<Query<'/audit'>>('audit', {
        max_results: maxResults,
        page_token: pageToken,
        model
      })
    ),
  promote: (name, version, alias, reason) =>
    post<'/models/{name}/promote'>(modelPath(name, 'promote'), {
      version,
      alias,
      reason
    }),
  rollback: (name, alias, reason) =>
    post<'/models/{name}/rollback'>(modelPath(name, 'rollback'), {
      alias,
      reason
    }),
  deployments: () =>
    requestAPI<IDeployment[]>(
      withQuery<Query<'/deployments'>>('deployments', { stopped: 'true' })
    ),
  deploymentTraffic: id =>
    requestAPI<IDeploymentTraffic>(
      `deployments/${encodeURIComponent(id)}/traffic`
    ),
  promoteCanary: (name, reason) =>
    post<'/models/{name}/canary/promote'>(
      modelPath(name, 'canary', 'promote'),
      { reason }
    ),
  abortCanary: (name, reason) =>
    post<'/models/{name}/canary/abort'>(modelPath(name, 'canary', 'abort'), {
      reason
    }),
  readiness: model =>
    requestAPI<IReadiness>(
      withQuery<Query<'/readiness'>>('readiness', { model })
    ),
  prompts: (maxResults, pageToken) =>
    requestAPI<IPromptsPage>(
      withQuery<Query<'/prompts'>>('prompts', {
        max_results: maxResults,
        page_token: pageToken
      })
    ),
  promptVersions: (name, maxResults, pageToken) =>
    requestAPI<IPromptVersionsPage>(
      withQuery<Query<'/prompts/{name}/versions'>>(
        promptPath(name, 'versions'),
        { max_results: maxResults, page_token: pageToken }
      )
    ),
  promptDiff: (name, from, to) =>
    requestAPI<IPromptDiff>(
      withQuery<Query<'/prompts/{name}/diff'>>(promptPath(name, 'diff'), {
        from,
        to
      })
    ),
  promptUsage: (name, which) =>
    requestAPI<IPromptUsage>(
      withQuery<Query<'/prompts/{name}/usage'>>(promptPath(name, 'usage'), {
        ...which
      })
    ),
  promotePrompt: (name, version, alias, reason) =>
    post<'/prompts/{name}/promote'>(promptPath(name, 'promote'), {
      version,
      alias,
      reason
    }),
  rollbackPrompt: (name, alias, reason) =>
    post<'/prompts/{name}/rollback'>(promptPath(name, 'rollback'), {
      alias,
      reason
    })
};
