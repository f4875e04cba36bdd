/**
 * The Audit trail section: registry changes, newest first, paged.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IAuditEvent } from '../api';
import { formatTime, versionLabel } from '../format';
import { AuditModel } from '../model/audit';
import { IErrorInfo } from '../model/errors';
import { IPagedState } from '../paged';
import {
  CountLine,
  ErrorNote,
  ISectionView,
  IViewContext,
  LoadMoreButton,
  Loading
} from './common';

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

/**
 * The Audit trail section of the panel; its title counts every event.
 */
export function auditSection(
  model: AuditModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  const { state } = model;
  return {
    title: trans.__('Audit trail'),
    count: state.loaded && state.total !== null ? String(state.total) : null,
    countTitle: trans.__('Registry changes recorded'),
    body: (
      <AuditSection
        trans={trans}
        list={state}
        error={model.error}
        onLoadMore={() => void model.loadMore()}
      />
    )
  };
}
