/**
 * The Recent runs section: the newest runs, paged; its pages also say which
 * tracking store the server reads.
 */

import { IRun } from '../api';
import { IPage } from '../paged';
import { ListSection } from './list';
import { ISectionHost, MAX_PAGE_SIZE } from './section';

export class RunsModel extends ListSection<IRun> {
  constructor(host: ISectionHost) {
    super(host, MAX_PAGE_SIZE);
  }

  readonly id = 'runs';
  readonly openByDefault = true;

  /**
   * The tracking store the last page came from; null before the first page.
   */
  get store(): string | null {
    return this._store;
  }

  protected async fetchPage(
    maxResults: number,
    pageToken: string | null
  ): Promise<IPage<IRun>> {
    const page = await this.host.api.runs(maxResults, pageToken);
    if (page.store) {
      this._store = page.store;
    }
    return {
      items: page.runs ?? [],
      nextPageToken: page.next_page_token ?? null,
      total: null
    };
  }

  protected key(run: IRun): string {
    return run.run_id;
  }

  private _store: string | null = null;
}
