/**
 * The browser entry: styles, the app's instances, history, then the shell. Auth is loaded first;
 * the shell renders "Loading…" until it knows who is there.
 */
import { render } from "preact";
import { auth, startApp, store } from "./app";
import { listenToHistory, route } from "./models/router";
import { App } from "./views/app";
import "./styles.css";

startApp();
listenToHistory();
void auth.load();
// A chat's URL: its history loads while the session is checked, not after.
const first = route.peek();
if (first.name === "chat") store.prefetch(first.chatId);
const root = document.getElementById("app");
if (root) render(<App />, root);
