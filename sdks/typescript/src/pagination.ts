/** Lists: one page at a time, every page, or every item, as async iterators. */

import { ValidationError } from "./errors.js";
import type { FieldError } from "./errors.js";
import type { Query, Route, Transport } from "./client.js";

/** A page of a list: `next_cursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

/** What every list takes: a page size and where to start. */
export interface PageParams {
  /** Items per page: 1 to 100; the server's default (50) unless set. */
  limit?: number;
  /** The `next_cursor` of an earlier page. */
  cursor?: string;
}

const MAX_PAGE_SIZE = 100;
const MAX_CURSOR_LEN = 64;

/** The server's own rules for `limit` and `cursor`, checked before sending. */
function checkPageParams(params: PageParams): void {
  const errors: FieldError[] = [];
  const { limit, cursor } = params;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE_SIZE)) {
    errors.push({
      field: "limit",
      code: "invalid_value",
      message: `limit must be between 1 and ${MAX_PAGE_SIZE} (got ${limit})`,
    });
  }
  if (cursor !== undefined && !(cursor.length <= MAX_CURSOR_LEN && /^[A-Za-z0-9_-]+$/.test(cursor))) {
    errors.push({ field: "cursor", code: "invalid_value", message: "cursor must be the next_cursor of an earlier page" });
  }
  if (errors.length > 0) throw new ValidationError(errors);
}

/**
 * A list request. `await list.send()` for one page, `for await (const page
 * of list.pages())` for every page, `for await (const item of list)` (or
 * `list.items()`) for every item, `await list.all()` to collect them. Pages
 * are fetched one request at a time, as they are consumed; iteration stops
 * at the first error, which it throws.
 */
export class List<T, P extends PageParams = PageParams> implements AsyncIterable<T> {
  readonly #transport: Transport;
  readonly #route: Route;
  readonly #params: P;

  /** @internal */
  constructor(transport: Transport, route: Route, params: P) {
    this.#transport = transport;
    this.#route = route;
    this.#params = params;
  }

  /** One page, from the cursor given (or the first). */
  send(): Promise<Page<T>> {
    return this.#fetch(this.#params.cursor);
  }

  /** Every page from the cursor on. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let cursor = this.#params.cursor;
    for (;;) {
      const page = await this.#fetch(cursor);
      yield page;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }

  /** Every item of every page from the cursor on. */
  async *items(): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.items;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.items();
  }

  /** Every item, collected. */
  async all(): Promise<T[]> {
    const all: T[] = [];
    for await (const item of this.items()) all.push(item);
    return all;
  }

  async #fetch(cursor: string | undefined): Promise<Page<T>> {
    const params = { ...this.#params, cursor };
    checkPageParams(params);
    const query: Query = {};
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) query[name] = String(value);
    }
    return this.#transport.json<Page<T>>("GET", this.#route, { query });
  }
}
