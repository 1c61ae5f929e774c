/**
 * Log in and sign up: one form, two modes, the server's error in plain words under it.
 */
import { useRef } from "preact/hooks";
import { auth } from "../app";
import { navigate, returnTo } from "../models/router";
import { Link } from "./link";

export function AuthPage({ mode }: { mode: "login" | "signup" }) {
  const email = useRef<HTMLInputElement>(null);
  const password = useRef<HTMLInputElement>(null);
  const signup = mode === "signup";
  const submit = async (event: Event) => {
    event.preventDefault();
    const e = email.current?.value ?? "";
    const p = password.current?.value ?? "";
    const ok = signup ? await auth.signUp(e, p) : await auth.logIn(e, p);
    if (ok) {
      navigate(returnTo.peek() ?? "/", { replace: true });
      returnTo.value = null;
    }
  };
  return (
    <main class="auth" id="main">
      <form class="auth-card" onSubmit={submit} aria-labelledby="auth-title">
        <h1 id="auth-title">{signup ? "Create your account" : "Log in to Agent Chat"}</h1>
        <p class="muted">Chat with a coding agent that works in its own sandbox.</p>
        <label>
          Email
          <input ref={email} type="email" name="email" autoComplete="email" required />
        </label>
        <label>
          Password
          <input
            ref={password}
            type="password"
            name="password"
            autoComplete={signup ? "new-password" : "current-password"}
            minLength={8}
            required
          />
        </label>
        {signup && <p class="hint">At least 8 characters.</p>}
        {auth.error.value && (
          <p class="error" role="alert">
            {auth.error.value}
          </p>
        )}
        <button type="submit" class="primary" disabled={auth.busy.value}>
          {signup ? "Sign up" : "Log in"}
        </button>
        <p class="muted">
          {signup ? "Have an account? " : "New here? "}
          <Link href={signup ? "/login" : "/signup"} onClick={() => (auth.error.value = null)}>
            {signup ? "Log in" : "Create an account"}
          </Link>
        </p>
      </form>
    </main>
  );
}
