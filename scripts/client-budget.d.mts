/** Types for client-budget.mjs (a plain script module, imported by the build and by its test). */
export declare const BUDGET_BYTES: number;
export declare function checkClientBudget(dir: string): string[];
