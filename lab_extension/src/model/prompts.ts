/**
 * The Prompts section: the prompt registry's prompts, paged, each with its
 * aliases; an expanded prompt shows its versions (newest first) with their
 * aliases, template, variables and latest evaluation, a diff of two versions,
 * the usage charts of the version an alias holds, and can move an alias
 * (promote, roll back) under the same policy and audit log as models.
 */

import { Signal } from '@lumino/signaling';

import {
  IPromptDiff,
  IPromptSummary,
  IPromptUsage,
  IPromptVersion
} from '../api';
import { IPage, RefreshOutcome } from '../paged';
import { describeError, IErrorInfo } from './errors';
import { ListSection } from './list';
import { defaultDiffPair, IDiffPair } from './promptsdiff';
import {
  choiceKey,
  defaultUsageChoice,
  UsageChoice,
  usageChoices
} from './promptsusage';
import {
  combineOutcomes,
  ISectionHost,
  MAX_REGISTRY_PAGE_SIZE
} from './section';

/**
 * What is known of one expanded prompt's versions.
 */
export interface IPromptVersionsState {
  loaded: boolean;
  versions: IPromptVersion[];
  total: number | null;
  error: IErrorInfo | null;
}

/**
 * The outcome of the last promote or roll back of a prompt.
 */
export interface IPromptAction {
  name: string;
  busy: boolean;
  done: string | null;
  error: IErrorInfo | null;
}

/**
 * The diff shown for one prompt: the two versions and, once loaded, the diff.
 */
export interface IPromptDiffState extends IDiffPair {
  diff: IPromptDiff | null;
  error: IErrorInfo | null;
}

/**
 * The usage charts shown for one prompt: what they are of and, once loaded,
 * its windows.
 */
export interface IPromptUsageState {
  choice: UsageChoice;
  usage: IPromptUsage | null;
  error: IErrorInfo | null;
}

const NOT_LOADED: IPromptVersionsState = {
  loaded: false,
  versions: [],
  total: null,
  error: null
};

export class PromptsModel extends ListSection<IPromptSummary> {
  constructor(host: ISectionHost) {
    super(host, MAX_REGISTRY_PAGE_SIZE);
  }

  readonly id = 'prompts';
  readonly openByDefault = false;

  /**
   * Emitted when a promote or roll back has finished.
   */
  get actionFinished(): Signal<this, IPromptAction> {
    return this._actionFinished;
  }

  get action(): IPromptAction | null {
    return this._action;
  }

  isExpanded(name: string): boolean {
    return this._expanded.has(name);
  }

  versionsOf(name: string): IPromptVersionsState {
    return this._versions.get(name) ?? NOT_LOADED;
  }

  /**
   * Alias → version of a prompt: from its loaded versions once expanded, from
   * its row of the list before.
   */
  aliasesOf(name: string): { [alias: string]: string } {
    const view = this.versionsOf(name);
    if (!view.loaded) {
      const row = this.state.items.find(p => p.name === name);
      return { ...(row?.aliases ?? {}) };
    }
    const aliases: { [alias: string]: string } = {};
    for (const version of view.versions) {
      for (const alias of version.aliases) {
        aliases[alias] = version.version;
      }
    }
    return aliases;
  }

  /**
   * Expand or fold a prompt; expanding loads its versions.
   */
  toggle(name: string, open = !this._expanded.has(name)): Promise<void> {
    if (open) {
      this._expanded.add(name);
    } else {
      this._expanded.delete(name);
    }
    this.emitChanged();
    return open
      ? this._loadVersions(name).then(() => undefined)
      : Promise.resolve();
  }

  async refresh(): Promise<RefreshOutcome> {
    const outcomes = await Promise.all([
      super.refresh(),
      ...[...this._expanded].map(name => this._loadVersions(name))
    ]);
    return combineOutcomes(outcomes);
  }

  /**
   * The diff shown for a prompt, or null when none is open.
   */
  diffOf(name: string): IPromptDiffState | null {
    return this._diffs.get(name) ?? null;
  }

  /**
   * Show the diff of two versions of a prompt (`from`: the `-` side).
   * Without versions: the given one (else the newest) against the one
   * before it.
   */
  async showDiff(name: string, from?: string, to?: string): Promise<void> {
    const pair =
      from !== undefined && to !== undefined
        ? { from, to }
        : defaultDiffPair(this.versionsOf(name).versions, to ?? from);
    if (!pair) {
      return;
    }
    this._diffs.set(name, { ...pair, diff: null, error: null });
    this.emitChanged();
    let next: IPromptDiffState;
    try {
      const diff = await this.host.api.promptDiff(name, pair.from, pair.to);
      next = { ...pair, diff, error: null };
    } catch (reason) {
      next = {
        ...pair,
        diff: null,
        error: describeError(reason, this.host.trans)
      };
    }
    const now = this._diffs.get(name);
    if (now && now.from === pair.from && now.to === pair.to) {
      this._diffs.set(name, next); // a later choice is not overwritten
      this.emitChanged();
    }
  }

  closeDiff(name: string): void {
    this._diffs.delete(name);
    this.emitChanged();
  }

  /**
   * The usage charts of a prompt, or null before its versions are loaded.
   */
  usageOf(name: string): IPromptUsageState | null {
    return this._usage.get(name) ?? null;
  }

  /**
   * Show the usage of the version an alias holds (or of a version).
   */
  showUsage(name: string, choice: UsageChoice): Promise<RefreshOutcome> {
    const before = this._usage.get(name);
    const same = before && choiceKey(before.choice) === choiceKey(choice);
    this._usage.set(name, {
      choice,
      usage: same ? before.usage : null,
      error: null
    });
    this.emitChanged();
    return this._loadUsage(name);
  }

  /**
   * Point `alias` of prompt `name` at `version`, then refresh the panel.
   */
  promote(
    name: string,
    version: string,
    alias: string,
    reason: string
  ): Promise<IPromptAction> {
    const trans = this.host.trans;
    return this._changeAlias(name, () =>
      this.host.api
        .promotePrompt(name, version, alias, reason)
        .then(change =>
          trans.__(
            '%1 of prompt %2 now points at version %3.',
            alias,
            name,
            change.aliases?.[alias] ?? version
          )
        )
    );
  }

  /**
   * Point `alias` of prompt `name` back at the version it held before.
   */
  rollback(
    name: string,
    alias: string,
    reason: string
  ): Promise<IPromptAction> {
    const trans = this.host.trans;
    return this._changeAlias(name, () =>
      this.host.api.rollbackPrompt(name, alias, reason).then(change => {
        const now = change.aliases?.[alias];
        return now
          ? trans.__(
              '%1 of prompt %2 rolled back: it points at version %3 again.',
              alias,
              name,
              now
            )
          : trans.__(
              '%1 of prompt %2 rolled back: it is unset now.',
              alias,
              name
            );
      })
    );
  }

  protected async fetchPage(
    maxResults: number,
    pageToken: string | null
  ): Promise<IPage<IPromptSummary>> {
    const page = await this.host.api.prompts(maxResults, pageToken);
    return {
      items: page.prompts ?? [],
      nextPageToken: page.next_page_token ?? null,
      total: page.total ?? null
    };
  }

  protected key(prompt: IPromptSummary): string {
    return prompt.name;
  }

  private async _loadVersions(name: string): Promise<RefreshOutcome> {
    const before = this.versionsOf(name);
    try {
      const page = await this.host.api.promptVersions(
        name,
        this.host.config.pageSize
      );
      const next: IPromptVersionsState = {
        loaded: true,
        versions: page.versions ?? [],
        total: page.total ?? null,
        error: null
      };
      const changed = JSON.stringify(next) !== JSON.stringify(before);
      this._versions.set(name, next);
      this.emitChanged();
      let usage = this._usage.get(name);
      const held = usageChoices(next.versions).map(c => c.key);
      if (usage && !held.includes(choiceKey(usage.choice))) {
        usage = undefined; // its alias was unset: show the default again
      }
      const choice = usage?.choice ?? defaultUsageChoice(next.versions);
      if (choice) {
        if (!usage) {
          this._usage.set(name, { choice, usage: null, error: null });
        }
        // New windows are logged while the prompt is open: read them again.
        const read = await this._loadUsage(name);
        return changed ? 'changed' : read;
      }
      return changed ? 'changed' : 'same';
    } catch (reason) {
      this._versions.set(name, {
        ...before,
        error: describeError(reason, this.host.trans)
      });
      this.emitChanged();
      return 'error';
    }
  }

  private async _loadUsage(name: string): Promise<RefreshOutcome> {
    const before = this._usage.get(name);
    if (!before) {
      return 'same';
    }
    const key = choiceKey(before.choice);
    let next: IPromptUsageState;
    try {
      const usage = await this.host.api.promptUsage(name, before.choice);
      next = { choice: before.choice, usage, error: null };
    } catch (reason) {
      const error = describeError(reason, this.host.trans);
      next = { ...before, error };
    }
    const now = this._usage.get(name);
    if (!now || choiceKey(now.choice) !== key) {
      return 'same'; // the user chose another alias meanwhile
    }
    const changed = JSON.stringify(next) !== JSON.stringify(now);
    this._usage.set(name, next);
    this.emitChanged();
    return next.error ? 'error' : changed ? 'changed' : 'same';
  }

  private async _changeAlias(
    name: string,
    change: () => Promise<string>
  ): Promise<IPromptAction> {
    this._action = { name, busy: true, done: null, error: null };
    this.emitChanged();
    try {
      const done = await change();
      this._action = { name, busy: false, done, error: null };
    } catch (reason) {
      const error = describeError(reason, this.host.trans);
      this._action = { name, busy: false, done: null, error };
    }
    const outcome = this._action;
    this._actionFinished.emit(outcome);
    this.emitChanged();
    await this.host.refreshNow();
    return outcome;
  }

  private _expanded = new Set<string>();
  private _versions = new Map<string, IPromptVersionsState>();
  private _diffs = new Map<string, IPromptDiffState>();
  private _usage = new Map<string, IPromptUsageState>();
  private _action: IPromptAction | null = null;
  private _actionFinished = new Signal<this, IPromptAction>(this);
}

/**
 * A template split into text and `{{variable}}` parts, to highlight them.
 */
export interface ITemplatePart {
  text: string;
  variable: string | null;
}

/**
 * MLflow's pattern of a template variable (`PROMPT_TEMPLATE_VARIABLE_PATTERN`).
 */
const VARIABLE =
  /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}/g;

export function templateParts(text: string): ITemplatePart[] {
  const parts: ITemplatePart[] = [];
  let last = 0;
  const pattern = new RegExp(VARIABLE.source, 'g');
  for (
    let match = pattern.exec(text);
    match !== null;
    match = pattern.exec(text)
  ) {
    const at = match.index;
    if (at > last) {
      parts.push({ text: text.slice(last, at), variable: null });
    }
    parts.push({ text: match[0], variable: match[1] });
    last = at + match[0].length;
  }
  if (last < text.length) {
    parts.push({ text: text.slice(last), variable: null });
  }
  return parts;
}
