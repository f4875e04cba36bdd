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
 * Fetch one page of the most recent runs from the nbops server extension.
 */
export const fetchRuns: FetchRuns = (maxResults, pageToken) => {
  const query: { [key: string]: string } = {
    max_results: String(maxResults)
  };
  if (pageToken) {
    query.page_token = pageToken;
  }
  return requestAPI<IRunsPage>('runs' + URLExt.objectToQueryString(query), {
    method: 'GET'
  });
};
