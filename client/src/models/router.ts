/**
 * Routes in the URL, so reload and back/forward work: the path parsed into a `Route` signal, and
 * `navigate` for links and actions. A new page adds a case to `parseRoute` (and `sectionOf` for
 * its place in the navigation) and, when it is a section of its own, an entry to `navItems`.
 */
import { signal } from "@preact/signals";

export type Route =
  | { name: "home" }
  | { name: "chat"; chatId: string }
  | { name: "settings" }
  | { name: "schedules" }
  | { name: "schedule-new" }
  | { name: "schedule"; scheduleId: string }
  | { name: "schedule-edit"; scheduleId: string }
  | { name: "login" }
  | { name: "signup" }
  | { name: "not-found"; path: string };

/** Pages that need no account; every other route sends a signed-out visitor to log in. */
export const publicRoutes: ReadonlySet<Route["name"]> = new Set(["login", "signup"]);

/** The main navigation, in order. */
export const navItems: readonly { href: string; label: string; route: Route["name"] }[] = [
  { href: "/", label: "Chats", route: "home" },
  { href: "/schedules", label: "Schedules", route: "schedules" },
  { href: "/settings", label: "Settings", route: "settings" },
];

export function parseRoute(path: string): Route {
  if (path === "/" || path === "") return { name: "home" };
  if (path === "/login") return { name: "login" };
  if (path === "/signup") return { name: "signup" };
  if (path === "/settings") return { name: "settings" };
  if (path === "/schedules" || path === "/schedules/") return { name: "schedules" };
  if (path === "/schedules/new") return { name: "schedule-new" };
  const chat = /^\/chats\/([^/]+)\/?$/.exec(path);
  if (chat?.[1]) return { name: "chat", chatId: decodeURIComponent(chat[1]) };
  const schedule = /^\/schedules\/([^/]+)(\/edit)?\/?$/.exec(path);
  if (schedule?.[1]) {
    const scheduleId = decodeURIComponent(schedule[1]);
    return schedule[2] ? { name: "schedule-edit", scheduleId } : { name: "schedule", scheduleId };
  }
  return { name: "not-found", path };
}

/** The navigation entry a route belongs to (a schedule's pages to "schedules"). */
export function sectionOf(route: Route): Route["name"] {
  return route.name.startsWith("schedule") ? "schedules" : route.name;
}

export const chatPath = (chatId: string) => `/chats/${encodeURIComponent(chatId)}`;
export const schedulePath = (scheduleId: string) => `/schedules/${encodeURIComponent(scheduleId)}`;

export const route = signal<Route>(typeof location === "undefined" ? { name: "home" } : parseRoute(location.pathname));

/** Where to go after logging in (the page a signed-out visitor first asked for). */
export const returnTo = signal<string | null>(null);

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (typeof history === "undefined") {
    route.value = parseRoute(path);
    return;
  }
  if (path !== location.pathname) {
    if (options.replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  }
  route.value = parseRoute(path);
}

/** Keeps the signal in step with back/forward. */
export function listenToHistory(): void {
  addEventListener("popstate", () => {
    route.value = parseRoute(location.pathname);
  });
}
