/**
 * The Audit trail section: registry changes, newest first, paged, with the
 * total the server counts.
 */

import { IAuditEvent } from '../api';
import { IPage } from '../paged';
import { ListSection } from './list';
import { ISectionHost, MAX_REGISTRY_PAGE_SIZE } from './section';

export class AuditModel extends ListSection<IAuditEvent> {
  constructor(host: ISectionHost) {
    super(host, MAX_REGISTRY_PAGE_SIZE);
  }

  readonly id = 'audit';
  readonly openByDefault = false;

  protected async fetchPage(
    maxResults: number,
    pageToken: string | null
  ): Promise<IPage<IAuditEvent>> {
    const page = await this.host.api.audit(maxResults, pageToken);
    return {
      items: page.events ?? [],
      nextPageToken: page.next_page_token ?? null,
      total: page.total ?? null
    };
  }

  protected key(event: IAuditEvent): string {
    return String(event.seq);
  }
}
