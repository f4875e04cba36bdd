/**
 * The Alerts section (open first) and the Audit section (newest first, paged).
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IAlert, IAuditEvent } from './api';
import {
  formatNumber,
  formatTime,
  severityClass,
  versionLabel
} from './format';
import { IPagedState } from './paged';
import {
  activateOnKey,
  Code,
  CountLine,
  ErrorNote,
  IErrorInfo,
  LoadMoreButton,
  Loading
} from './views';

/**
 * Where alert rules live, and what checks them.
 */
const ALERTS_TABLE = '[tool.nbops.alerts]';
const LOG_BATCH_SNIPPET = 'nbops.monitor.log_batch(...)';

export interface IAlertsView {
  open: IAlert[];
  resolved: IAlert[];
  loaded: boolean;
  error: IErrorInfo | null;
  /** How many resolved alerts are shown. */
  resolvedShown: number;
}

export function AlertsSection(props: {
  trans: TranslationBundle;
  view: IAlertsView;
  onShowMoreResolved: () => void;
  onReveal: (model: string, version: string) => void;
}): JSX.Element {
  const { trans, view } = props;
  if (!view.loaded) {
    return view.error ? (
      <ErrorNote what={trans.__('alerts')} error={view.error} trans={trans} />
    ) : (
      <Loading text={trans.__('Loading alerts…')} />
    );
  }
  const resolved = view.resolved.slice(0, view.resolvedShown);
  return (
    <>
      {view.error && (
        <ErrorNote what={trans.__('alerts')} error={view.error} trans={trans} />
      )}
      {view.open.length === 0 ? (
        <div className="nbops-placeholder nbops-alerts-empty">
          <p>{trans.__('No open alerts.')}</p>
          {view.resolved.length === 0 && (
            <p>
              {trans.__('Alert rules live in')} <Code>{ALERTS_TABLE}</Code>{' '}
              {trans.__('of pyproject.toml; each')}{' '}
              <Code>{LOG_BATCH_SNIPPET}</Code> {trans.__('checks them.')}
            </p>
          )}
        </div>
      ) : (
        <ul className="nbops-alerts" aria-label={trans.__('Open alerts')}>
          {view.open.map(alert => (
            <AlertItem key={alert.id} alert={alert} {...props} />
          ))}
        </ul>
      )}
      {view.resolved.length > 0 && (
        <>
          <h4 className="nbops-subtitle">{trans.__('Resolved')}</h4>
          <CountLine
            text={
              view.resolved.length > resolved.length
                ? trans.__(
                    'Showing %1 of %2 resolved alerts',
                    resolved.length,
                    view.resolved.length
                  )
                : trans._n(
                    'Showing %1 resolved alert',
                    'Showing %1 resolved alerts',
                    resolved.length
                  )
            }
          />
          <ul
            className="nbops-alerts nbops-alerts-resolved"
            aria-label={trans.__('Resolved alerts')}
          >
            {resolved.map(alert => (
              <AlertItem key={alert.id} alert={alert} {...props} />
            ))}
          </ul>
          {view.resolved.length > resolved.length && (
            <LoadMoreButton
              className="nbops-more nbops-alerts-more"
              loading={false}
              onClick={props.onShowMoreResolved}
              trans={trans}
              label={trans.__('Show more')}
            />
          )}
        </>
      )}
    </>
  );
}

function AlertItem(props: {
  trans: TranslationBundle;
  alert: IAlert;
  onReveal: (model: string, version: string) => void;
}): JSX.Element {
  const { trans, alert } = props;
  const opened = formatTime(alert.opened_at ?? null);
  const resolved = formatTime(alert.resolved_at ?? null);
  const reveal = () => props.onReveal(alert.model, alert.version);
  const target = `${alert.model} ${versionLabel(alert.version)}`;
  return (
    <li
      className={`nbops-alert nbops-alert-${alert.state}`}
      data-alert-id={alert.id}
      data-state={alert.state}
    >
      <div
        className="nbops-alert-row"
        role="button"
        tabIndex={0}
        title={trans.__('Show %1 in Models', target)}
        onClick={reveal}
        onKeyDown={activateOnKey(reveal)}
      >
        <div className="nbops-row-line">
          <span className={`nbops-severity ${severityClass(alert.severity)}`}>
            {alert.severity}
          </span>
          <span className="nbops-alert-rule">{alert.rule}</span>
          <span className="nbops-alert-target">{target}</span>
        </div>
        {alert.message && (
          <p className="nbops-alert-message">{alert.message}</p>
        )}
        <div className="nbops-row-line nbops-row-meta">
          <span>
            {alert.state === 'resolved' && resolved.iso
              ? trans.__('resolved %1', resolved.local)
              : trans.__('opened %1', opened.local)}
            {alert.opened_batch !== undefined &&
              ' ' + trans.__('(batch %1)', alert.opened_batch)}
          </span>
          <span className="nbops-alert-value">
            {trans.__(
              '%1 %2 %3',
              formatNumber(alert.value ?? null),
              alert.op,
              formatNumber(alert.threshold)
            )}
          </span>
        </div>
        {alert.retrain_state && (
          <p className="nbops-alert-retrain" data-retrain={alert.retrain_state}>
            {trans.__('Retraining: %1', alert.retrain_state)}
            {alert.challenger_version &&
              ' — ' +
                trans.__(
                  'challenger %1',
                  versionLabel(alert.challenger_version)
                )}
            {alert.gates && ' — ' + trans.__('gates: %1', String(alert.gates))}
            {alert.promoted === 'true' &&
              ' — ' + trans.__('promoted to champion')}
            {alert.retrain_error && (
              <span className="nbops-alert-retrain-error">
                {' — '}
                {String(alert.retrain_error)}
              </span>
            )}
          </p>
        )}
      </div>
    </li>
  );
}

/**
 * One line saying what an audit event changed.
 */
export function describeEvent(
  event: IAuditEvent,
  trans: TranslationBundle
): string {
  const model = event.model ?? '';
  const version = event.version ? ` ${versionLabel(event.version)}` : '';
  switch (event.action) {
    case 'promote':
      return event.from_version
        ? trans.__(
            '%1: %2 → %3 (was %4)',
            model,
            event.alias ?? '',
            versionLabel(event.to_version),
            versionLabel(event.from_version)
          )
        : trans.__(
            '%1: %2 → %3',
            model,
            event.alias ?? '',
            versionLabel(event.to_version)
          );
    case 'rollback':
      return trans.__(
        '%1: %2 back to %3 (from %4)',
        model,
        event.alias ?? '',
        versionLabel(event.to_version),
        versionLabel(event.from_version)
      );
    default:
      return `${model}${version}${event.alias ? ` (${event.alias})` : ''}`;
  }
}

export function AuditSection(props: {
  trans: TranslationBundle;
  list: Readonly<IPagedState<IAuditEvent>>;
  error: IErrorInfo | null;
  onLoadMore: () => void;
}): JSX.Element {
  const { trans, list, error } = props;
  let body: React.ReactNode;
  if (!list.loaded) {
    body = error ? null : (
      <Loading text={trans.__('Loading the audit trail…')} />
    );
  } else if (list.items.length === 0) {
    body = (
      <div className="nbops-placeholder nbops-audit-empty">
        <p>{trans.__('No registry changes yet.')}</p>
        <p>
          {trans.__(
            'Registering, promoting, rolling back, gates and alerts are recorded here.'
          )}
        </p>
      </div>
    );
  } else {
    body = (
      <>
        <CountLine
          text={
            list.total !== null && list.total > list.items.length
              ? trans.__(
                  'Showing %1 of %2 events',
                  list.items.length,
                  list.total
                )
              : trans._n(
                  'Showing %1 event',
                  'Showing %1 events',
                  list.items.length
                )
          }
        />
        <ol className="nbops-events" aria-label={trans.__('Audit trail')}>
          {list.items.map(event => (
            <EventItem key={event.seq} event={event} trans={trans} />
          ))}
        </ol>
        {list.nextPageToken && (
          <LoadMoreButton
            className="nbops-more nbops-audit-more"
            loading={list.loadingMore}
            onClick={props.onLoadMore}
            trans={trans}
            label={trans.__('Load more events')}
          />
        )}
      </>
    );
  }
  return (
    <>
      {error && (
        <ErrorNote
          what={trans.__('the audit trail')}
          error={error}
          trans={trans}
        />
      )}
      {body}
    </>
  );
}

function EventItem(props: {
  event: IAuditEvent;
  trans: TranslationBundle;
}): JSX.Element {
  const { event, trans } = props;
  const when = formatTime(event.time);
  const forced = event.details?.forced === 'true';
  return (
    <li
      className="nbops-event"
      data-seq={event.seq}
      data-action={event.action}
      tabIndex={0}
    >
      <div className="nbops-row-line">
        <span className={`nbops-action nbops-action-${event.action}`}>
          {event.action}
        </span>
        <span className="nbops-event-what">{describeEvent(event, trans)}</span>
        {forced && (
          <span className="nbops-severity nbops-severity-warning">
            {trans.__('forced')}
          </span>
        )}
      </div>
      {event.reason && <p className="nbops-event-reason">{event.reason}</p>}
      <div className="nbops-row-line nbops-row-meta">
        <time dateTime={when.iso || undefined} title={when.iso || undefined}>
          {when.local}
        </time>
        <span className="nbops-event-who">
          {event.source
            ? trans.__('%1 via %2', event.actor, event.source)
            : event.actor}
          {' · #'}
          {event.seq}
        </span>
      </div>
    </li>
  );
}
