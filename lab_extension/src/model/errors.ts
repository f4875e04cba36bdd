/**
 * Failed requests as the sidebar shows them: one line and a hint saying what
 * to do. Kept apart from the views so that the models can hold them.
 */

import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { NbopsResponseError } from '../request';

/**
 * A failure as the sidebar shows it: one line and a hint.
 */
export interface IErrorInfo {
  message: string;
  hint: string;
  status: number | null;
  /** A refused promotion's missing gates. */
  missingGates: string[];
}

/**
 * A one-line message and a hint for a failed request.
 */
export function describeError(
  reason: unknown,
  trans: TranslationBundle
): IErrorInfo {
  if (reason instanceof ServerConnection.ResponseError) {
    const status = reason.response.status;
    let hint: string;
    if (status === 404) {
      hint = trans.__(
        'Is the nbops server extension enabled? Check with `jupyter server extension list`.'
      );
    } else if (status === 401 || status === 403) {
      hint = trans.__('Your session may have expired: reload the page.');
    } else if (status === 409) {
      hint = trans.__(
        'Run the missing gates (nbops gate run, or %gate in a notebook), then try again.'
      );
    } else if (status >= 500) {
      hint = trans.__('The Jupyter server log has the details.');
    } else {
      hint = trans.__('Use Refresh to try again.');
    }
    const body = reason instanceof NbopsResponseError ? reason.body : {};
    const missing = Array.isArray(body.missing_gates)
      ? body.missing_gates.map(String)
      : [];
    if (status === 404 && body.error === 'NotFound') {
      // nbops' own "not found" (a model deleted meanwhile), not a missing route.
      hint = trans.__('Use Refresh to reload the list.');
    }
    return { message: reason.message, hint, status, missingGates: missing };
  }
  if (reason instanceof ServerConnection.NetworkError) {
    return {
      message: reason.message,
      hint: trans.__('Is the Jupyter server running?'),
      status: null,
      missingGates: []
    };
  }
  return {
    message: reason instanceof Error ? reason.message : String(reason),
    hint: trans.__('Use Refresh to try again.'),
    status: null,
    missingGates: []
  };
}

/**
 * `describeError`, or null when there is no error.
 */
export function describeOptional(
  reason: unknown,
  trans: TranslationBundle
): IErrorInfo | null {
  return reason === null || reason === undefined
    ? null
    : describeError(reason, trans);
}
