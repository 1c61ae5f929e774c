/**
 * A tiny seeded PRNG (mulberry32) and helpers for property tests, so every failing trial is
 * reproducible from its seed. Test-only; no dependencies.
 */
export type Rng = {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
};

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      const item = items[int(0, items.length - 1)];
      if (item === undefined) throw new Error("pick from an empty list");
      return item;
    },
    chance: (p: number): boolean => next() < p,
  };
}

/** A random string mixing ASCII, JSON escapes, 2-, 3- and 4-byte UTF-8 characters. */
export function randomText(rng: Rng, maxLength: number): string {
  const alphabet = ["a", "b", " ", "\n", '"', "\\", "\t", "é", "ß", "€", "中", "😀", "👍🏽", "\u0001"];
  let s = "";
  const n = rng.int(0, maxLength);
  for (let i = 0; i < n; i++) s += rng.pick(alphabet);
  return s;
}
