import { describe, expect, it } from 'vitest';

import { appendUnique, IPage, PagedList } from '../paged';

/**
 * A store of `count` items (`item-0` newest) served in pages whose token is
 * the offset; `calls` records each request.
 */
function pagedStore(count: number) {
  const store = {
    items: Array.from({ length: count }, (_, index) => `item-${index}`),
    calls: [] as { maxResults: number; pageToken: string | null }[],
    fail: null as Error | null,
    fetch: async (
      maxResults: number,
      pageToken: string | null
    ): Promise<IPage<string>> => {
      store.calls.push({ maxResults, pageToken });
      if (store.fail) {
        throw store.fail;
      }
      const start = Number(pageToken ?? 0);
      const end = start + maxResults;
      return {
        items: store.items.slice(start, end),
        nextPageToken: end < store.items.length ? String(end) : null,
        total: store.items.length
      };
    }
  };
  return store;
}

function list(store: ReturnType<typeof pagedStore>, pageSize = 2) {
  let changes = 0;
  const paged = new PagedList<string>({
    fetch: store.fetch,
    key: item => item,
    onChange: () => changes++,
    pageSize,
    maxPageSize: 5
  });
  return { paged, changes: () => changes };
}

describe('PagedList', () => {
  it('loads the first page, then appends the next ones', async () => {
    const store = pagedStore(5);
    const { paged } = list(store);
    expect(await paged.refresh()).toBe('changed');
    expect(paged.state).toMatchObject({
      items: ['item-0', 'item-1'],
      nextPageToken: '2',
      total: 5,
      loaded: true,
      refreshing: false
    });
    await paged.loadMore();
    await paged.loadMore();
    expect(paged.state.items).toHaveLength(5);
    expect(paged.state.nextPageToken).toBeNull();
    await paged.loadMore(); // the last page: nothing to ask for
    expect(store.calls).toHaveLength(3);
  });

  it('re-reads as many items as are shown, up to the largest page', async () => {
    const store = pagedStore(9);
    const { paged } = list(store);
    await paged.refresh();
    await paged.loadMore();
    await paged.loadMore();
    expect(paged.state.items).toHaveLength(6);
    await paged.refresh();
    expect(store.calls[store.calls.length - 1]).toEqual({
      maxResults: 5,
      pageToken: null
    });
    expect(paged.state.items).toHaveLength(5);
    expect(paged.state.nextPageToken).toBe('5');
  });

  it('says "changed" only when something changed', async () => {
    const store = pagedStore(3);
    const { paged } = list(store);
    await paged.refresh();
    expect(await paged.refresh()).toBe('same');
    store.items.unshift('item-new');
    expect(await paged.refresh()).toBe('changed');
    expect(paged.state.items[0]).toBe('item-new');
  });

  it('drops an item a shifted page repeats', async () => {
    const store = pagedStore(4);
    const { paged } = list(store);
    await paged.refresh();
    store.items.unshift('item-new'); // page two now starts with item-1
    await paged.loadMore();
    expect(paged.state.items).toEqual(['item-0', 'item-1', 'item-2']);
  });

  it('shares one request between concurrent refreshes', async () => {
    const store = pagedStore(3);
    const { paged } = list(store);
    const [a, b] = await Promise.all([paged.refresh(), paged.refresh()]);
    expect([a, b]).toEqual(['changed', 'changed']);
    expect(store.calls).toHaveLength(1);
  });

  it('keeps what it showed when a refresh fails, with the error', async () => {
    const store = pagedStore(3);
    const { paged } = list(store);
    await paged.refresh();
    store.fail = new Error('store down');
    expect(await paged.refresh()).toBe('error');
    expect(paged.state.items).toEqual(['item-0', 'item-1']);
    expect(paged.state.error).toBe(store.fail);
    store.fail = null;
    expect(await paged.refresh()).toBe('changed');
    expect(paged.state.error).toBeNull();
  });

  it('forgets everything on reset; answers on their way are dropped', async () => {
    const store = pagedStore(3);
    const { paged } = list(store);
    const pending = paged.refresh();
    paged.reset();
    expect(await pending).toBe('same');
    expect(paged.state.loaded).toBe(false);
    expect(paged.state.items).toEqual([]);
  });

  it('reports nothing once disposed', async () => {
    const store = pagedStore(3);
    const { paged, changes } = list(store);
    const pending = paged.refresh();
    const before = changes();
    paged.dispose();
    await pending;
    expect(changes()).toBe(before);
  });
});

describe('appendUnique', () => {
  it('appends only the items not already there', () => {
    expect(appendUnique([1, 2], [2, 3, 3, 4], String)).toEqual([1, 2, 3, 4]);
  });
});
