import { URLExt } from '@jupyterlab/coreutils';

import { ServerConnection } from '@jupyterlab/services';

/**
 * The URL namespace of the nbops server extension's REST API.
 */
export const API_NAMESPACE = 'nbops/api';

/**
 * Call the nbops server extension.
 *
 * @param endPoint API REST end point, relative to `nbops/api/`; it may carry a
 *   query string (`runs?max_results=50`)
 * @param init Initial values for the request
 * @param settings Server settings; defaults to `ServerConnection.makeSettings()`
 * @returns The response body interpreted as JSON
 * @throws NbopsResponseError (a ServerConnection.ResponseError) when the server
 *   answers with a non-2xx status: its message is the JSON body's `message` when
 *   there is one, and `body` the JSON body
 * @throws ServerConnection.NetworkError when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  // Join only the path: URLExt.join normalizes its parts like file paths, which
  // must not touch an (already encoded) query string.
  const queryStart = endPoint.indexOf('?');
  const path = queryStart < 0 ? endPoint : endPoint.slice(0, queryStart);
  const query = queryStart < 0 ? '' : endPoint.slice(queryStart);
  const requestUrl = URLExt.join(settings.baseUrl, API_NAMESPACE, path) + query;

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }

  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not a JSON body (for example an HTML error page from a proxy).
    }
  }

  if (!response.ok) {
    const message =
      data !== null &&
      typeof data === 'object' &&
      typeof data.message === 'string'
        ? data.message
        : `${response.status} ${response.statusText}`.trim();
    throw new NbopsResponseError(response, message, data);
  }

  return data as T;
}

/**
 * A non-2xx answer from the nbops server, with its parsed JSON body (for
 * example a refused promotion's `missing_gates`).
 */
export class NbopsResponseError extends ServerConnection.ResponseError {
  constructor(response: Response, message: string, body: unknown) {
    super(response, message);
    this.body =
      body !== null && typeof body === 'object'
        ? (body as { [key: string]: unknown })
        : {};
  }

  /**
   * The JSON body of the answer (`{}` when it was not a JSON object).
   */
  readonly body: { [key: string]: unknown };
}
