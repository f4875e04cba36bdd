/**
 * The whole sidebar as React: a header (title, store, Refresh) and the
 * foldable sections, each drawn by its own view from its own model.
 */

import { refreshIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { shortenMiddle } from '../format';
import { PanelModel, SECTIONS, SectionId } from '../model/panel';
import { alertsSection } from './alerts';
import { auditSection } from './audit';
import { ISectionView, IViewContext, Section } from './common';
import { deploymentsSection } from './deployments';
import { modelsSection } from './models';
import { promptsSection } from './prompts';
import { readinessSection } from './readiness';
import { runsSection } from './runs';

/**
 * The product name, shown as is in every language.
 */
export const EXTENSION_TITLE = 'nbops';

/**
 * How each section is drawn.
 */
const SECTION_VIEWS: {
  [id in SectionId]: (model: PanelModel, context: IViewContext) => ISectionView;
} = {
  models: (model, context) =>
    modelsSection(model.registry, model.alerts, context),
  deployments: (model, context) =>
    deploymentsSection(model.deployments, context),
  prompts: (model, context) => promptsSection(model.prompts, context),
  readiness: (model, context) => readinessSection(model.readiness, context),
  runs: (model, context) => runsSection(model.runs, context),
  alerts: (model, context) => alertsSection(model.alerts, context),
  audit: (model, context) => auditSection(model.audit, context)
};

export function PanelView(props: {
  model: PanelModel;
  context: IViewContext;
  onRefresh: () => void;
}): JSX.Element {
  const { model, context } = props;
  const { trans } = context;
  const refreshing = model.refreshing;
  const refreshLabel = trans.__('Refresh');
  const store = model.store;
  return (
    <div className="nbops-content">
      <header className="nbops-header">
        <div className="nbops-heading">
          <h2 className="nbops-title">{EXTENSION_TITLE}</h2>
          {store && (
            <span className="nbops-store" title={store}>
              {shortenMiddle(store)}
            </span>
          )}
        </div>
        <button
          type="button"
          className={'nbops-refresh' + (refreshing ? ' nbops-is-busy' : '')}
          aria-label={refreshLabel}
          title={refreshLabel}
          aria-busy={refreshing}
          onClick={props.onRefresh}
        >
          <refreshIcon.react tag="span" className="nbops-refresh-icon" />
        </button>
      </header>
      {SECTIONS.map(id => {
        const view = SECTION_VIEWS[id](model, context);
        return (
          <Section
            key={id}
            id={id}
            title={view.title}
            count={view.count}
            countTitle={view.countTitle}
            attention={view.attention}
            expanded={model.isOpen(id)}
            onToggle={open => model.toggleSection(id, open)}
          >
            {view.body}
          </Section>
        );
      })}
    </div>
  );
}
