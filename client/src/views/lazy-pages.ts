/**
 * The pages the first screen does not need (settings, schedules), loaded together as one chunk on
 * first use. One chunk, not one per page: with a third dynamic import beside the files panel's,
 * Rolldown (Vite 8) moves Preact out of the entry into a chunk of its own that the first page must
 * also load (rolldown/rolldown#10731), which costs the first page about 0.4 KiB gzipped.
 */
export { SchedulesRoute } from "./schedules/schedules-route";
export { SettingsPage } from "./settings-page";
