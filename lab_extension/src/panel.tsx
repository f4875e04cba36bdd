/**
 * The sidebar widget: connects the panel model (`model/panel.ts`: state,
 * polling, actions) to JupyterLab (visibility, dialogs, notifications, the
 * theme, scrolling) and renders its views (`views/`).
 */

import { Notification, Sanitizer } from '@jupyterlab/apputils';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import { IModelSummary, IRun } from './api';
import {
  IPanelViewState,
  PanelModel,
  SectionId,
  SECTIONS
} from './model/panel';
import {
  DEFAULT_PAGE_SIZE as PAGE_SIZE,
  DEFAULT_REFRESH_INTERVAL as REFRESH_INTERVAL,
  IPanelConfig,
  MAX_PAGE_SIZE,
  MAX_REGISTRY_PAGE_SIZE
} from './model/section';
import { IActionState } from './model/version';
import { Poller } from './poll';
import { IViewContext } from './views/common';
import { askCanaryEnding, askPromote, askRollback } from './views/dialogs';

/**
 * How the registry and the audit log address a prompt.
 */
const PROMPT_PREFIX = 'prompts:/';
import { EXTENSION_TITLE, PanelView } from './views/panel';

export {
  EXTENSION_TITLE,
  MAX_PAGE_SIZE,
  MAX_REGISTRY_PAGE_SIZE,
  SectionId,
  SECTIONS
};

/**
 * The sidebar panel: registered models (versions, gates, model cards,
 * monitoring charts, promote and roll back), recent runs, monitoring alerts
 * and the audit trail.
 *
 * It refreshes when shown, by polling while visible (every `refreshInterval`
 * seconds while something changes, backing off while nothing does or the server
 * fails), and on demand (`refresh()`, the Refresh button, `nbops:refresh`).
 */
export class NbopsPanel extends ReactWidget {
  constructor(options: NbopsPanel.IOptions = {}) {
    super();
    this.addClass('nbops-panel');
    this._trans = (options.translator ?? nullTranslator).load('nbops');
    const sanitizer = options.sanitizer ?? new Sanitizer();
    this.model = new PanelModel({
      ...options,
      isShown: () => this.isVisible,
      isPageVisible: () => document.visibilityState !== 'hidden'
    });
    this.model.changed.connect(() => this.update());
    this.model.registry.version.actionFinished.connect((_, action) =>
      this._notify(action)
    );
    this.model.prompts.actionFinished.connect((_, action) =>
      this._notify(action)
    );
    this._context = {
      trans: this._trans,
      sanitize: html => sanitizer.sanitize(html),
      themeKey: 0,
      reveal: (model, version) => this.reveal(model, version),
      promote: (model, version, alias) =>
        void this._promote(model, version, alias),
      rollback: (model, version, alias) =>
        void this._rollback(model, version, alias),
      promotePrompt: (name, version, alias) =>
        void this._promotePrompt(name, version, alias),
      rollbackPrompt: (name, version, alias) =>
        void this._rollbackPrompt(name, version, alias),
      endCanary: (model, alias, ending) =>
        void this._endCanary(model, alias, ending)
    };
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /**
   * The panel's state, polling and actions.
   */
  readonly model: PanelModel;

  /**
   * The refresh interval (seconds, 0 = no auto refresh) and page size in use.
   */
  get config(): NbopsPanel.IConfig {
    return this.model.config;
  }

  /**
   * The runs currently listed.
   */
  get runs(): ReadonlyArray<IRun> {
    return this.model.runs.state.items;
  }

  /**
   * The models currently listed.
   */
  get models(): ReadonlyArray<IModelSummary> {
    return this.model.registry.state.items;
  }

  /**
   * The polling in use (its delay grows while nothing changes).
   */
  get poller(): Poller {
    return this.model.poller;
  }

  /**
   * What the user opened: sections, expanded models, the selected version and
   * the models filter (saved across page reloads).
   */
  get viewState(): NbopsPanel.IViewState {
    return this.model.viewState;
  }

  /**
   * Emitted when `viewState` changes.
   */
  get viewStateChanged(): ISignal<PanelModel, NbopsPanel.IViewState> {
    return this.model.viewStateChanged;
  }

  /**
   * Open what a saved view state says (unknown or malformed parts are ignored).
   */
  restoreViewState(state: unknown): void {
    if (!this.isDisposed) {
      this.model.restoreViewState(state);
    }
  }

  /**
   * Change the refresh interval and/or page size (from the settings).
   */
  configure(config: Partial<NbopsPanel.IConfig>): void {
    this.model.configure(config);
  }

  /**
   * Reload what the open sections show, keeping as many items as are shown.
   *
   * Concurrent calls share one request per list. Never rejects: failures are
   * shown in the panel.
   */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  /**
   * Fetch the first page of models in the background (e.g. once JupyterLab
   * has started), so that the panel opens with data. A no-op once loaded.
   */
  prefetch(): Promise<void> {
    return this.model.prefetch();
  }

  /**
   * Fetch the next page of runs and append it. A no-op on the last page, while
   * a page is loading, or while a refresh is pending.
   */
  loadMore(): Promise<void> {
    return this.model.runs.loadMore();
  }

  /**
   * Something probably changed (a notebook ran a cell): poll soon again.
   */
  nudge(): void {
    this.model.nudge();
  }

  /**
   * Open (expand) a section and scroll to it.
   */
  showSection(section: SectionId): void {
    if (!this.model.isOpen(section)) {
      this.model.toggleSection(section);
    }
    this._afterRender(() => {
      this.node
        .querySelector(`.nbops-section-${section} .nbops-section-toggle`)
        ?.scrollIntoView({ block: 'nearest' });
    });
  }

  /**
   * Show one version of a model: the Models section open, the model expanded,
   * the version's detail shown and scrolled to.
   */
  reveal(model: string, version: string): void {
    this.model.reveal(model, version);
    this._afterRender(() => {
      const item = this.node.querySelector<HTMLElement>(
        `.nbops-model[data-model="${CSS.escape(model)}"] .nbops-version[data-version="${CSS.escape(version)}"] .nbops-version-row`
      );
      item?.scrollIntoView({ block: 'start' });
      item?.focus();
    });
  }

  /**
   * Redraw the charts in the colours of the (new) theme.
   */
  themeChanged(): void {
    this._context = { ...this._context, themeKey: this._context.themeKey + 1 };
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    document.removeEventListener('visibilitychange', this._onVisibility);
    this.model.dispose();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this.model.start();
    }
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.stop();
    super.onBeforeDetach(msg);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.start();
  }

  protected onBeforeHide(msg: Message): void {
    this.model.stop();
    super.onBeforeHide(msg);
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    const callbacks = this._renderCallbacks.splice(0);
    if (callbacks.length) {
      void this.renderPromise?.then(() => {
        for (const callback of callbacks) {
          callback();
        }
      });
    }
  }

  render(): JSX.Element {
    return (
      <PanelView
        model={this.model}
        context={this._context}
        onRefresh={() => void this.model.refreshNow()}
      />
    );
  }

  private _onVisibility = (): void => {
    if (document.visibilityState === 'visible' && this.isVisible) {
      void this.model.refreshNow();
    }
  };

  private async _promote(
    model: string,
    version: string,
    alias: string | null
  ): Promise<void> {
    const summary = this.model.registry.find(model);
    const choice = await askPromote({
      trans: this._trans,
      model,
      version,
      alias,
      current: alias ? (summary?.aliases?.[alias] ?? null) : null
    });
    if (choice) {
      await this.model.registry.version.promote(
        model,
        version,
        choice.alias,
        choice.reason
      );
    }
  }

  private async _rollback(
    model: string,
    version: string,
    alias: string
  ): Promise<void> {
    const choice = await askRollback({
      trans: this._trans,
      model,
      alias,
      current: version
    });
    if (choice) {
      await this.model.registry.version.rollback(
        model,
        version,
        alias,
        choice.reason
      );
    }
  }

  private async _promotePrompt(
    name: string,
    version: string,
    alias: string | null
  ): Promise<void> {
    const choice = await askPromote({
      trans: this._trans,
      model: PROMPT_PREFIX + name,
      version,
      alias,
      current: alias
        ? (this.model.prompts.aliasesOf(name)[alias] ?? null)
        : null
    });
    if (choice) {
      await this.model.prompts.promote(
        name,
        version,
        choice.alias,
        choice.reason
      );
    }
  }

  private async _rollbackPrompt(
    name: string,
    version: string,
    alias: string
  ): Promise<void> {
    const choice = await askRollback({
      trans: this._trans,
      model: PROMPT_PREFIX + name,
      alias,
      current: version
    });
    if (choice) {
      await this.model.prompts.rollback(name, alias, choice.reason);
    }
  }

  private async _endCanary(
    model: string,
    alias: string,
    ending: 'promote' | 'abort'
  ): Promise<void> {
    const choice = await askCanaryEnding({
      trans: this._trans,
      model,
      alias,
      ending
    });
    if (choice) {
      this._notify(
        await this.model.deployments.endCanary(model, ending, choice.reason)
      );
    }
  }

  /**
   * Tell the user how an alias change went.
   */
  private _notify(action: Pick<IActionState, 'done' | 'error'>): void {
    if (action.done) {
      Notification.success(action.done, { autoClose: 5000 });
    } else if (action.error) {
      const error = action.error;
      Notification.error(
        error.missingGates.length
          ? this._trans.__(
              'Refused: %1 Missing gates: %2.',
              error.message,
              error.missingGates.join(', ')
            )
          : error.message,
        { autoClose: 8000 }
      );
    }
  }

  /**
   * Run `callback` once the next render is on the page.
   */
  private _afterRender(callback: () => void): void {
    this._renderCallbacks.push(callback);
    this.update();
  }

  private _trans: TranslationBundle;
  private _context: IViewContext;
  private _renderCallbacks: (() => void)[] = [];
}

/**
 * The namespace for `NbopsPanel` statics.
 */
export namespace NbopsPanel {
  /**
   * What the settings control.
   */
  export type IConfig = IPanelConfig;

  export interface IOptions extends PanelModel.IOptions {
    /** Sanitises the model card's HTML once more; JupyterLab's by default. */
    sanitizer?: { sanitize(html: string): string };
  }

  /**
   * What the user opened in the panel.
   */
  export type IViewState = IPanelViewState;

  export const DEFAULT_REFRESH_INTERVAL = REFRESH_INTERVAL;
  export const DEFAULT_PAGE_SIZE = PAGE_SIZE;
}
