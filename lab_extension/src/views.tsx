/**
 * Small presentational pieces shared by the sidebar's sections. Every string
 * from the server is rendered as React text, never as HTML.
 */

import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { gateBadges, GateState, IGateBadge } from './format';
import { NbopsResponseError } from './request';

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
 * An error box: "Could not load X: message." and a hint.
 */
export function ErrorNote(props: {
  what: string;
  error: IErrorInfo;
  trans: TranslationBundle;
  className?: string;
}): JSX.Element {
  const { trans, error } = props;
  return (
    <div className={`nbops-error ${props.className ?? ''}`} role="alert">
      {trans.__(
        'Could not load %1: %2.',
        props.what,
        error.message.replace(/[.\s]+$/, '')
      )}{' '}
      <span className="nbops-error-hint">{error.hint}</span>
    </div>
  );
}

export function Loading(props: { text: string }): JSX.Element {
  return (
    <div className="nbops-loading" role="status">
      <span className="nbops-spinner" aria-hidden="true" />
      {props.text}
    </div>
  );
}

/**
 * "Showing 20 of 57 models", so that a partial list is never mistaken for all.
 */
export function CountLine(props: {
  text: string;
  className?: string;
}): JSX.Element {
  return (
    <p className={`nbops-count ${props.className ?? ''}`} aria-live="polite">
      {props.text}
    </p>
  );
}

export function LoadMoreButton(props: {
  className: string;
  loading: boolean;
  onClick: () => void;
  trans: TranslationBundle;
  label?: string;
}): JSX.Element {
  const { trans } = props;
  return (
    <button
      type="button"
      className={props.className}
      aria-busy={props.loading}
      onClick={props.onClick}
    >
      {props.loading
        ? trans.__('Loading…')
        : (props.label ?? trans.__('Load more'))}
    </button>
  );
}

/**
 * A collapsible section: its title is a button with `aria-expanded`.
 */
export function Section(props: {
  id: string;
  title: string;
  count?: string | null;
  countTitle?: string;
  attention?: boolean;
  expanded: boolean;
  onToggle: () => void;
  children: React.ReactNode;
}): JSX.Element {
  const bodyId = `nbops-section-${props.id}`;
  const Caret = props.expanded ? caretDownIcon : caretRightIcon;
  return (
    <section
      className={`nbops-section nbops-section-${props.id}`}
      data-section={props.id}
    >
      <h3 className="nbops-section-title">
        <button
          type="button"
          className="nbops-section-toggle"
          aria-expanded={props.expanded}
          aria-controls={bodyId}
          onClick={props.onToggle}
        >
          <Caret.react tag="span" className="nbops-caret" />
          <span className="nbops-section-label">{props.title}</span>
          {props.count && (
            <span
              className={
                'nbops-section-count' +
                (props.attention ? ' nbops-is-attention' : '')
              }
              title={props.countTitle}
            >
              {props.count}
            </span>
          )}
        </button>
      </h3>
      {props.expanded && (
        <div className="nbops-section-body" id={bodyId}>
          {props.children}
        </div>
      )}
    </section>
  );
}

/**
 * Alias chips: `champion → v3` (or just `champion` when the version is implied).
 */
export function AliasChips(props: {
  aliases: [string, string | null][];
  trans: TranslationBundle;
}): JSX.Element | null {
  if (props.aliases.length === 0) {
    return null;
  }
  return (
    <span className="nbops-aliases">
      {props.aliases.map(([alias, version]) => (
        <span
          key={alias}
          className="nbops-alias"
          data-alias={alias}
          title={
            version
              ? props.trans.__('Alias %1 points at version %2', alias, version)
              : props.trans.__('Alias %1', alias)
          }
        >
          {version ? `${alias} → v${version}` : alias}
        </span>
      ))}
    </span>
  );
}

const GATE_MARK: { [state in GateState]: string } = {
  passed: '✓',
  failed: '✗',
  error: '!',
  missing: '?',
  unknown: '•'
};

function gateTitle(badge: IGateBadge, trans: TranslationBundle): string {
  const needed = badge.requiredFor.length
    ? ' ' + trans.__('(required for %1)', badge.requiredFor.join(', '))
    : '';
  switch (badge.state) {
    case 'passed':
      return trans.__('Gate %1 passed', badge.gate) + needed;
    case 'failed':
      return trans.__('Gate %1 failed', badge.gate) + needed;
    case 'error':
      return trans.__('Gate %1 could not run (error)', badge.gate) + needed;
    case 'missing':
      return trans.__('Gate %1 has not run', badge.gate) + needed;
    default:
      return trans.__('Gate %1', badge.gate) + needed;
  }
}

/**
 * Gate badges: passed, failed, error, or missing (required, not run).
 */
export function GateBadges(props: {
  results: { [gate: string]: string } | null | undefined;
  required: { [alias: string]: string[] } | null | undefined;
  trans: TranslationBundle;
}): JSX.Element | null {
  const badges = gateBadges(props.results, props.required);
  if (badges.length === 0) {
    return null;
  }
  return (
    <span className="nbops-gates">
      {badges.map(badge => {
        const title = gateTitle(badge, props.trans);
        return (
          <span
            key={badge.gate}
            className={`nbops-gate nbops-gate-${badge.state}`}
            data-gate={badge.gate}
            data-state={badge.state}
            title={title}
            aria-label={title}
          >
            <span className="nbops-gate-mark" aria-hidden="true">
              {GATE_MARK[badge.state]}
            </span>
            {badge.gate}
          </span>
        );
      })}
    </span>
  );
}

/**
 * `onKeyDown` for elements acting as buttons: Enter and Space activate.
 */
export function activateOnKey(
  action: () => void
): (event: React.KeyboardEvent) => void {
  return event => {
    if (event.target !== event.currentTarget) {
      return;
    }
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      action();
    }
  };
}

/**
 * Inline code in an empty state.
 */
export function Code(props: { children: string }): JSX.Element {
  return <code>{props.children}</code>;
}
