/**
 * The tick's D1 handle and subrequest meter: every D1 round trip and every chat call goes through
 * here, so one tick never issues more subrequests than its budget and reports what it used.
 */
export type IoCounts = { d1Queries: number; d1Statements: number; chatCalls: number };

export class TickIo {
  readonly db: D1Database;
  readonly budget: number;
  readonly counts: IoCounts = { d1Queries: 0, d1Statements: 0, chatCalls: 0 };

  constructor(db: D1Database, budget: number) {
    this.db = db;
    this.budget = budget;
  }

  get spent(): number {
    return this.counts.d1Queries + this.counts.chatCalls;
  }

  get remaining(): number {
    return this.budget - this.spent;
  }

  async all<T>(statement: D1PreparedStatement): Promise<T[]> {
    this.counts.d1Queries += 1;
    this.counts.d1Statements += 1;
    return (await statement.all<T>()).results;
  }

  /** One round trip, one transaction; an empty list costs nothing. */
  async batch(statements: D1PreparedStatement[]): Promise<D1Result[]> {
    if (statements.length === 0) return [];
    this.counts.d1Queries += 1;
    this.counts.d1Statements += statements.length;
    return this.db.batch(statements);
  }

  /** Counts a call to a chat's Durable Object (made by the caller). */
  chatCall(): void {
    this.counts.chatCalls += 1;
  }
}
