/**
 * The app shell: picks the page for the current route, sends a signed-out visitor to log in (and
 * back afterwards), lays out the sidebar beside the page, and handles the global shortcuts.
 */
import { useEffect } from "preact/hooks";
import { auth, chatList, drawerOpen } from "../app";
import { lazy } from "../lib/lazy";
import { navigate, publicRoutes, returnTo, route, sectionOf } from "../models/router";
import { AuthPage } from "./auth-page";
import { ChatView } from "./chat-view";
import { Home } from "./home";
import { Link } from "./link";
import { newChat } from "./new-chat";
import { Sidebar } from "./sidebar";

const SettingsPage = lazy(() => import("./lazy-pages").then((m) => m.SettingsPage), "Loading…");
const SchedulesRoute = lazy(() => import("./lazy-pages").then((m) => m.SchedulesRoute), "Loading…");

function typing(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey && e.shiftKey && e.code === "KeyN") {
        e.preventDefault();
        void newChat();
      } else if (e.key === "/" && !typing(e.target) && !e.ctrlKey && !e.metaKey && !e.altKey) {
        const composer = document.getElementById("composer");
        if (composer) {
          e.preventDefault();
          composer.focus();
        }
      } else if (e.key === "Escape" && drawerOpen.peek()) {
        drawerOpen.value = false;
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
}

function SignedIn() {
  useShortcuts();
  useEffect(() => {
    void chatList.refresh();
    return chatList.autoRefresh(document);
  }, []);
  const current = route.value;
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Sidebar />
      {drawerOpen.value && (
        <button
          type="button"
          class="scrim"
          aria-label="Close the chat list"
          onClick={() => (drawerOpen.value = false)}
        />
      )}
      {current.name === "chat" ? (
        <ChatView key={current.chatId} chatId={current.chatId} />
      ) : current.name === "settings" ? (
        <SettingsPage />
      ) : sectionOf(current) === "schedules" ? (
        <SchedulesRoute route={current} />
      ) : current.name === "home" ? (
        <Home />
      ) : (
        <main class="home" id="main">
          <div class="empty-chat">
            <h1>Nothing here</h1>
            <p>
              <Link href="/">Back to your chats</Link>
            </p>
          </div>
        </main>
      )}
    </div>
  );
}

export function App() {
  const user = auth.user.value;
  const current = route.value;
  useEffect(() => {
    if (user === null && !publicRoutes.has(current.name)) {
      returnTo.value = location.pathname === "/" ? null : location.pathname;
      navigate("/login", { replace: true });
    } else if (user && publicRoutes.has(current.name)) {
      navigate("/", { replace: true });
    }
  }, [user, current.name]);
  if (user === undefined) {
    return (
      <p class="boot" role="status">
        Loading…
      </p>
    );
  }
  if (user === null) {
    return current.name === "signup" ? <AuthPage mode="signup" /> : <AuthPage mode="login" />;
  }
  if (publicRoutes.has(current.name)) return null;
  return <SignedIn />;
}
