/**
 * The browser entry. Until the client issue builds the real chat UI, this page says what the
 * service is and shows whether the visitor is signed in, using the same API a script would.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

type Me = { state: "loading" } | { state: "signed-out" } | { state: "signed-in"; email: string };

function App() {
  const [me, setMe] = useState<Me>({ state: "loading" });
  useEffect(() => {
    fetch("/api/auth/me")
      .then(async (res) => {
        const body = (await res.json()) as { user?: { email?: unknown } };
        const email = body.user?.email;
        setMe(res.ok && typeof email === "string" ? { state: "signed-in", email } : { state: "signed-out" });
      })
      .catch(() => setMe({ state: "signed-out" }));
  }, []);
  return (
    <main>
      <h1>Agent Chat</h1>
      <p>Chat with a coding agent that works in its own sandbox. The full interface is on its way; the API is live.</p>
      <p data-testid="session">
        {me.state === "loading"
          ? "Checking your session…"
          : me.state === "signed-in"
            ? `Signed in as ${me.email}`
            : "Not signed in"}
      </p>
    </main>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
