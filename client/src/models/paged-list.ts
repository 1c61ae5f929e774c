/**
 * A list the API serves newest first, a page at a time: the rows shown, the cursor of the next
 * page, and the state of loading them. A refresh reloads as many rows as are shown; an answer that
 * a later refresh or a local change has overtaken is dropped. The chat list and the schedule list
 * build on it.
 */
import { signal } from "@preact/signals";
import { messageOf } from "../api/http";

export type Page<T> = { items: readonly T[]; nextCursor: string | null };

/** At most this many rows are read again by one refresh. */
const MAX_REFRESH = 100;

export class PagedList<T extends { id: string }> {
  readonly items = signal<readonly T[]>([]);
  readonly nextCursor = signal<string | null>(null);
  readonly loaded = signal(false);
  readonly loading = signal(false);
  readonly error = signal<string | null>(null);
  /** When the first page shown now was requested (0: never). */
  refreshedAt = 0;
  readonly #fetchPage: (cursor: string | null, limit: number) => Promise<Page<T>>;
  readonly #pageSize: number;
  #generation = 0;

  constructor(fetchPage: (cursor: string | null, limit: number) => Promise<Page<T>>, pageSize: number) {
    this.#fetchPage = fetchPage;
    this.#pageSize = pageSize;
  }

  /** Reloads from the top, as many rows as are shown now, replacing the list. */
  async refresh(): Promise<void> {
    const generation = ++this.#generation;
    const limit = Math.min(MAX_REFRESH, Math.max(this.#pageSize, this.items.peek().length));
    const startedAt = Date.now();
    try {
      const page = await this.#fetchPage(null, limit);
      if (generation !== this.#generation) return;
      this.refreshedAt = startedAt;
      this.items.value = page.items;
      this.nextCursor.value = page.nextCursor;
      this.loaded.value = true;
      this.error.value = null;
    } catch (error: unknown) {
      if (generation === this.#generation) this.error.value = messageOf(error);
    }
  }

  async loadMore(): Promise<void> {
    const cursor = this.nextCursor.peek();
    if (!cursor || this.loading.peek()) return;
    const generation = this.#generation;
    this.loading.value = true;
    try {
      const page = await this.#fetchPage(cursor, this.#pageSize);
      if (generation !== this.#generation) return;
      const known = new Set(this.items.peek().map((item) => item.id));
      this.items.value = [...this.items.peek(), ...page.items.filter((item) => !known.has(item.id))];
      this.nextCursor.value = page.nextCursor;
      this.error.value = null;
    } catch (error: unknown) {
      if (generation === this.#generation) this.error.value = messageOf(error);
    } finally {
      this.loading.value = false;
    }
  }

  /** Forgets everything (another user signed in); answers still on their way are dropped. */
  reset(): void {
    this.invalidate();
    this.items.value = [];
    this.nextCursor.value = null;
    this.loaded.value = false;
    this.error.value = null;
  }

  /** Drops the answers of requests under way (a row was added or removed here meanwhile). */
  protected invalidate(): void {
    this.#generation++;
  }
}
