/**
 * The protocol module boundary: events, the snapshot reducer and stream frames, imported by the
 * worker and the browser alike. Everything here depends on zod only.
 */
export * from "./events";
export * from "./frames";
export * from "./snapshot";
