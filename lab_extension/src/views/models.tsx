/**
 * The Models section: registered models (paged, filterable), each expanding
 * to its versions (paged), each version expanding to its detail.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { caretDownIcon, caretRightIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IModelSummary, IVersionSummary } from '../api';
import { formatStart, versionLabel } from '../format';
import { AlertsModel } from '../model/alerts';
import { IErrorInfo } from '../model/errors';
import { IVersionsState, RegistryModel } from '../model/registry';
import { versionKey } from '../model/version';
import { IPagedState } from '../paged';
import {
  activateOnKey,
  AliasChips,
  Code,
  CountLine,
  ErrorNote,
  GateBadges,
  ISectionView,
  IViewContext,
  LoadMoreButton,
  Loading
} from './common';
import { aliasPairs, VersionDetail } from './detail';

/**
 * What a new user runs to register a model.
 */
const REGISTRY_NOTEBOOK = 'notebooks/03_registry.ipynb';
const REGISTER_SNIPPET = '%register MODEL --name NAME --data X';

export interface IModelsSectionProps {
  trans: TranslationBundle;
  list: Readonly<IPagedState<IModelSummary>>;
  error: IErrorInfo | null;
  filter: string;
  onFilter: (text: string) => void;
  onLoadMore: () => void;
  isExpanded: (name: string) => boolean;
  onToggleModel: (name: string, expand: boolean) => void;
  versions: (name: string) => IVersionsState | null;
  onLoadMoreVersions: (name: string) => void;
  selected: { model: string; version: string } | null;
  onSelect: (model: string, version: string, selected: boolean) => void;
  renderDetail: (model: IModelSummary, version: string) => JSX.Element;
}

export function ModelsSection(props: IModelsSectionProps): JSX.Element {
  const { trans, list, error, filter } = props;
  let body: React.ReactNode;
  if (!list.loaded) {
    body = error ? null : <Loading text={trans.__('Loading models…')} />;
  } else if (list.items.length === 0 && !filter) {
    body = (
      <div className="nbops-placeholder nbops-models-empty">
        <p className="nbops-empty-title">
          {trans.__('No registered models yet.')}
        </p>
        <p>
          {trans.__('Run')} <Code>{REGISTRY_NOTEBOOK}</Code>{' '}
          {trans.__('or, in a notebook after training:')}
        </p>
        <p>
          <Code>{REGISTER_SNIPPET}</Code>
        </p>
        <p>{trans.__('The model will show up here.')}</p>
      </div>
    );
  } else {
    body = (
      <>
        {list.items.length === 0 ? (
          <p className="nbops-placeholder">
            {trans.__('No model name contains “%1”.', filter)}
          </p>
        ) : (
          <CountLine
            text={
              list.total !== null && list.total > list.items.length
                ? trans.__(
                    'Showing %1 of %2 models',
                    list.items.length,
                    list.total
                  )
                : trans._n(
                    'Showing %1 model',
                    'Showing %1 models',
                    list.items.length
                  )
            }
          />
        )}
        <ul className="nbops-models" aria-label={trans.__('Registered models')}>
          {list.items.map((model, index) => (
            <ModelItem
              key={model.name}
              index={index}
              model={model}
              {...props}
            />
          ))}
        </ul>
        {list.nextPageToken && (
          <LoadMoreButton
            className="nbops-more nbops-models-more"
            loading={list.loadingMore}
            onClick={props.onLoadMore}
            trans={trans}
            label={trans.__('Load more models')}
          />
        )}
      </>
    );
  }
  return (
    <>
      {(list.loaded && (list.items.length > 0 || filter)) ||
      (list.total ?? 0) > 0 ? (
        <FilterBox trans={trans} value={filter} onChange={props.onFilter} />
      ) : null}
      {error && (
        <ErrorNote what={trans.__('models')} error={error} trans={trans} />
      )}
      {body}
    </>
  );
}

/**
 * The model filter; applied after a short pause in typing.
 */
function FilterBox(props: {
  trans: TranslationBundle;
  value: string;
  onChange: (text: string) => void;
}): JSX.Element {
  const { trans } = props;
  const [text, setText] = React.useState(props.value);
  React.useEffect(() => {
    // The filter may be set from elsewhere (an alert shows its model).
    setText(props.value);
  }, [props.value]);
  React.useEffect(() => {
    if (text === props.value) {
      return;
    }
    const timer = window.setTimeout(() => props.onChange(text), 300);
    return () => window.clearTimeout(timer);
  }, [text]);
  return (
    <div className="nbops-filter">
      <input
        type="search"
        className="jp-mod-styled nbops-filter-input"
        placeholder={trans.__('Filter models by name')}
        aria-label={trans.__('Filter models by name')}
        value={text}
        maxLength={200}
        onChange={event => setText(event.target.value)}
        onKeyDown={event => {
          if (event.key === 'Enter') {
            props.onChange(text);
          } else if (event.key === 'Escape' && text) {
            event.stopPropagation();
            setText('');
            props.onChange('');
          }
        }}
      />
    </div>
  );
}

function ModelItem(
  props: IModelsSectionProps & { model: IModelSummary; index: number }
): JSX.Element {
  const { trans, model } = props;
  const open = props.isExpanded(model.name);
  const bodyId = `nbops-model-body-${props.index}`;
  const latest = model.latest_version;
  const toggle = () => props.onToggleModel(model.name, !open);
  const alerts = model.open_alerts ?? 0;
  const Caret = open ? caretDownIcon : caretRightIcon;
  return (
    <li className="nbops-model" data-model={model.name}>
      <div
        className="nbops-model-row"
        role="button"
        tabIndex={0}
        aria-expanded={open}
        aria-controls={bodyId}
        aria-label={trans.__(
          '%1: %2 versions, latest %3%4',
          model.name,
          model.versions_count,
          versionLabel(latest),
          alerts ? trans._n(', %1 open alert', ', %1 open alerts', alerts) : ''
        )}
        onClick={toggle}
        onKeyDown={activateOnKey(toggle)}
      >
        <div className="nbops-row-line">
          <Caret.react tag="span" className="nbops-caret" />
          <span className="nbops-model-name">{model.name}</span>
          {alerts > 0 && (
            <span
              className="nbops-model-alerts"
              title={trans._n('%1 open alert', '%1 open alerts', alerts)}
            >
              {trans._n('%1 alert', '%1 alerts', alerts)}
            </span>
          )}
        </div>
        <div className="nbops-row-line nbops-row-meta">
          <AliasChips aliases={aliasPairs(model.aliases)} trans={trans} />
          <span className="nbops-model-latest">
            {trans.__('latest %1', versionLabel(latest))}
          </span>
          <span className="nbops-model-count">
            {trans._n('%1 version', '%1 versions', model.versions_count)}
          </span>
        </div>
        {latest && (
          <div className="nbops-row-line nbops-model-gates">
            <span className="nbops-muted">{versionLabel(latest)}</span>
            <GateBadges
              results={model.gates?.[latest]}
              required={model.required_gates}
              trans={trans}
            />
          </div>
        )}
        {model.description && (
          <p className="nbops-model-description" title={model.description}>
            {model.description}
          </p>
        )}
      </div>
      {open && (
        <div className="nbops-model-body" id={bodyId}>
          <VersionList {...props} />
        </div>
      )}
    </li>
  );
}

function VersionList(
  props: IModelsSectionProps & { model: IModelSummary }
): JSX.Element {
  const { trans, model } = props;
  const view = props.versions(model.name);
  if (!view || !view.state.loaded) {
    return view?.error ? (
      <ErrorNote
        what={trans.__('the versions of %1', model.name)}
        error={view.error}
        trans={trans}
      />
    ) : (
      <Loading text={trans.__('Loading versions…')} />
    );
  }
  const { state, error } = view;
  const total = state.total;
  const selected =
    props.selected?.model === model.name ? props.selected.version : null;
  const offPage =
    selected !== null &&
    !state.items.some(version => version.version === selected);
  return (
    <>
      {offPage && selected !== null && (
        <div
          className="nbops-version nbops-is-selected"
          data-version={selected}
        >
          <p className="nbops-version-row nbops-version-label">
            {versionLabel(selected)}
          </p>
          {props.renderDetail(model, selected)}
        </div>
      )}
      {error && (
        <ErrorNote
          what={trans.__('the versions of %1', model.name)}
          error={error}
          trans={trans}
        />
      )}
      <CountLine
        className="nbops-versions-count"
        text={
          total !== null && total > state.items.length
            ? trans.__('Showing %1 of %2 versions', state.items.length, total)
            : trans._n(
                'Showing %1 version',
                'Showing %1 versions',
                state.items.length
              )
        }
      />
      <ul
        className="nbops-versions"
        aria-label={trans.__('Versions of %1', model.name)}
      >
        {state.items.map(version => (
          <VersionItem
            key={version.version}
            {...props}
            model={model}
            version={version}
          />
        ))}
      </ul>
      {state.nextPageToken && (
        <LoadMoreButton
          className="nbops-more nbops-versions-more"
          loading={state.loadingMore}
          onClick={() => props.onLoadMoreVersions(model.name)}
          trans={trans}
          label={trans.__('Load more versions')}
        />
      )}
    </>
  );
}

function VersionItem(
  props: IModelsSectionProps & {
    model: IModelSummary;
    version: IVersionSummary;
  }
): JSX.Element {
  const { trans, model, version } = props;
  const selected =
    props.selected?.model === model.name &&
    props.selected?.version === version.version;
  const created = formatStart(version.created);
  const select = () => props.onSelect(model.name, version.version, !selected);
  return (
    <li
      className={'nbops-version' + (selected ? ' nbops-is-selected' : '')}
      data-version={version.version}
    >
      <div
        className="nbops-version-row"
        role="button"
        tabIndex={0}
        aria-expanded={selected}
        aria-label={trans.__(
          'Version %1%2',
          version.version,
          version.aliases.length ? ` (${version.aliases.join(', ')})` : ''
        )}
        onClick={select}
        onKeyDown={activateOnKey(select)}
      >
        <div className="nbops-row-line">
          <span className="nbops-version-label">
            {versionLabel(version.version)}
          </span>
          <AliasChips
            aliases={version.aliases.map(alias => [alias, null])}
            trans={trans}
          />
          <time
            className="nbops-version-created"
            dateTime={created.iso || undefined}
            title={created.iso || undefined}
          >
            {created.local}
          </time>
        </div>
        <div className="nbops-row-line nbops-row-meta">
          <GateBadges
            results={version.gates}
            required={model.required_gates}
            trans={trans}
          />
        </div>
        {version.description && !selected && (
          <p className="nbops-version-description">{version.description}</p>
        )}
      </div>
      {selected && props.renderDetail(model, version.version)}
    </li>
  );
}

/**
 * The Models section of the panel; its title counts the registered models
 * (matching the filter).
 */
export function modelsSection(
  model: RegistryModel,
  alerts: AlertsModel,
  context: IViewContext
): ISectionView {
  const { trans } = context;
  const { state } = model;
  const selection = model.version;
  return {
    title: trans.__('Models'),
    count: state.loaded && state.total !== null ? String(state.total) : null,
    countTitle: trans.__('Registered models'),
    body: (
      <ModelsSection
        trans={trans}
        list={state}
        error={model.error}
        filter={model.filter}
        onFilter={text => model.setFilter(text)}
        onLoadMore={() => void model.loadMore()}
        isExpanded={name => model.isExpanded(name)}
        onToggleModel={(name, expand) => model.toggle(name, expand)}
        versions={name => model.versions(name)}
        onLoadMoreVersions={name => void model.loadMoreVersions(name)}
        selected={selection.selected}
        onSelect={(name, version, selected) =>
          model.setSelected(name, version, selected)
        }
        renderDetail={(summary, version) => {
          const detail = selection.detailOf(summary.name, version);
          return (
            <VersionDetail
              key={versionKey(summary.name, version)}
              trans={trans}
              model={summary}
              name={summary.name}
              version={version}
              detail={detail?.data ?? null}
              detailError={detail?.error ?? null}
              monitoring={detail?.series ?? null}
              monitoringError={detail?.seriesError ?? null}
              alerts={alerts.forVersion(summary.name, version)}
              themeKey={context.themeKey}
              action={selection.actionOf(summary.name, version)}
              sanitize={context.sanitize}
              onPromote={alias => context.promote(summary.name, version, alias)}
              onRollback={alias =>
                context.rollback(summary.name, version, alias)
              }
            />
          );
        }}
      />
    )
  };
}
