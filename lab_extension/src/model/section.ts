/**
 * What every section of the sidebar's model provides, and what the panel
 * model offers its sections. A new section (say, Deployments) is a class
 * implementing `ISectionModel`, listed in `PanelModel`'s sections, and a view.
 */

import { TranslationBundle } from '@jupyterlab/translation';
import { ISignal } from '@lumino/signaling';

import { INbopsApi } from '../api';
import { RefreshOutcome } from '../paged';

/**
 * The largest page of runs the panel asks for (the schema's `pageSize` maximum).
 */
export const MAX_PAGE_SIZE = 500;

/**
 * The largest page of models, versions or audit events (the server's limit).
 */
export const MAX_REGISTRY_PAGE_SIZE = 1000;

/**
 * What the settings control.
 */
export interface IPanelConfig {
  /** Seconds between automatic refreshes while visible; 0 disables them. */
  refreshInterval: number;
  /** How many items (runs, models, versions, events) one page holds (1 to 500). */
  pageSize: number;
}

export const DEFAULT_REFRESH_INTERVAL = 15;
export const DEFAULT_PAGE_SIZE = 50;

/**
 * Clamp settings to what the schema allows, falling back to the defaults.
 */
export function sanitizeConfig(config: Partial<IPanelConfig>): IPanelConfig {
  const interval = Number(config.refreshInterval);
  const size = Number(config.pageSize);
  return {
    refreshInterval:
      config.refreshInterval === undefined || !Number.isFinite(interval)
        ? DEFAULT_REFRESH_INTERVAL
        : Math.max(0, Math.floor(interval)),
    pageSize:
      config.pageSize === undefined || !Number.isFinite(size)
        ? DEFAULT_PAGE_SIZE
        : Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size)))
  };
}

/**
 * What a section may use of the panel it is in.
 */
export interface ISectionHost {
  readonly api: INbopsApi;
  readonly trans: TranslationBundle;
  readonly config: IPanelConfig;
  /**
   * The user changed something on the server: poll soon again and refresh
   * every open section now.
   */
  refreshNow(): Promise<void>;
}

/**
 * One section of the sidebar, without its view.
 */
export interface ISectionModel {
  /** The section's id (`models`, `runs`, …): its CSS class and saved state. */
  readonly id: string;
  /** Whether the section is open before the user folds or opens it. */
  readonly openByDefault: boolean;
  /** Refreshed while folded too (its title shows a count). */
  readonly alwaysRefresh: boolean;
  /**
   * Refreshed alone before the other sections until it has loaded: the first
   * request to a fresh server loads MLflow there.
   */
  readonly leads: boolean;
  /** Whether a first answer has arrived. */
  readonly loaded: boolean;
  /** Whether a refresh is on its way (the Refresh button shows it). */
  readonly refreshing: boolean;
  /** Emitted after any change of what the section shows. */
  readonly changed: ISignal<ISectionModel, void>;
  readonly isDisposed: boolean;
  /**
   * Reload what the section shows. Concurrent calls share requests; never
   * rejects (failures are part of the section's state).
   */
  refresh(): Promise<RefreshOutcome>;
  /** The settings changed. */
  configure(config: IPanelConfig): void;
  dispose(): void;
}

/**
 * One outcome for several refreshes: changed if any changed, else error if
 * any failed, else same.
 */
export function combineOutcomes(outcomes: RefreshOutcome[]): RefreshOutcome {
  if (outcomes.includes('changed')) {
    return 'changed';
  }
  return outcomes.includes('error') ? 'error' : 'same';
}
