/**
 * Small presentational pieces shared by the sidebar's sections, and what a
 * section view is. Every string from the server is rendered as React text,
 * never as HTML.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { gateBadges, GateState, IGateBadge } from '../format';
import { IErrorInfo } from '../model/errors';

/**
 * What a section view needs besides its model: the translations, and the
 * panel's actions that reach beyond one section (they open dialogs, scroll,
 * or change another section).
 */
export interface IViewContext {
  trans: TranslationBundle;
  /** Sanitises the model card's HTML once more. */
  sanitize: (html: string) => string;
  /** Changes when the JupyterLab theme changes, to redraw the charts. */
  themeKey: number;
  /** Show a version in the Models section. */
  reveal: (model: string, version: string) => void;
  /** Ask for a reason, then point an alias (null: the user names it) at a version. */
  promote: (model: string, version: string, alias: string | null) => void;
  /** Ask for a reason, then point an alias back at its previous version. */
  rollback: (model: string, version: string, alias: string) => void;
  /** The same, for a prompt (by its name, without `prompts:/`). */
  promotePrompt: (name: string, version: string, alias: string | null) => void;
  rollbackPrompt: (name: string, version: string, alias: string) => void;
  /** Ask for a reason, then promote or abort a model's running canary. */
  endCanary?: (
    model: string,
    alias: string,
    ending: 'promote' | 'abort'
  ) => void;
}

/**
 * A section as the panel lays it out: a foldable title with an optional
 * count, and its body.
 */
export interface ISectionView {
  title: string;
  count?: string | null;
  countTitle?: string;
  /** Whether the count asks for attention (e.g. open alerts). */
  attention?: boolean;
  body: JSX.Element;
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
  /** Called with what the click asks for: the opposite of what was shown. */
  onToggle: (open: boolean) => void;
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
          onClick={() => props.onToggle(!props.expanded)}
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

/**
 * A titled block of the version detail.
 */
export function Block(props: {
  title: string;
  className: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className={`nbops-detail-block ${props.className}`}>
      <h4 className="nbops-detail-title">{props.title}</h4>
      {props.children}
    </div>
  );
}
