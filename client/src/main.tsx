/**
 * The browser entry: styles, the app's instances, history, then the shell. Auth is loaded first;
 * the shell renders "Loading…" until it knows who is there.
 */
import { render } from "preact";
import { auth, startApp } from "./app";
import { listenToHistory } from "./models/router";
import { App } from "./views/app";
import "./styles.css";

startApp();
listenToHistory();
void auth.load();
const root = document.getElementById("app");
if (root) render(<App />, root);
