import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, cookieFrom, expectError, json, signUp, uniqueEmail } from "./helpers";

const password = "correct horse battery";

describe("accounts", () => {
  it("signs up, sets an HttpOnly session cookie and knows the user on the next request", async () => {
    const email = uniqueEmail();
    const res = await api("/api/auth/signup", { body: { email, password } });
    expect(res.status).toBe(201);
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^sid=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    const me = await api("/api/auth/me", { headers: { cookie: cookieFrom(res) } });
    expect(me.status).toBe(200);
    expect((await json<{ user: { email: string } }>(me)).user.email).toBe(email);
  });

  it("stores a PBKDF2 hash, never the password, and only a hash of the session token", async () => {
    const session = await signUp();
    const user = await env.DB.prepare("SELECT password_hash FROM users WHERE id = ?")
      .bind(session.userId)
      .first<{ password_hash: string }>();
    expect(user?.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(user?.password_hash).not.toContain(password);
    const token = session.cookie.split("=")[1] ?? "";
    const raw = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE id = ?")
      .bind(token)
      .first<{ n: number }>();
    expect(raw?.n).toBe(0);
  });

  it("logs in with the right password and normalises the email's case", async () => {
    const session = await signUp();
    const res = await api("/api/auth/login", { body: { email: session.email.toUpperCase(), password } });
    expect(res.status).toBe(200);
    const me = await api("/api/auth/me", { headers: { cookie: cookieFrom(res) } });
    expect(me.status).toBe(200);
  });

  it("gives the same error for a wrong password and an unknown email", async () => {
    const session = await signUp();
    const wrong = await api("/api/auth/login", { body: { email: session.email, password: "wrong password!" } });
    const unknown = await api("/api/auth/login", { body: { email: uniqueEmail("nobody"), password } });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
    expect(wrong.headers.get("set-cookie")).toBeNull();
  });

  it("rejects a duplicate email with 409", async () => {
    const session = await signUp();
    const res = await api("/api/auth/signup", { body: { email: session.email, password } });
    await expectError(res, 409, "email_taken");
  });

  it("logs out: the cookie stops working and the session is revoked in D1", async () => {
    const session = await signUp();
    const out = await api("/api/auth/logout", { method: "POST", session });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/sid=;/);
    const me = await api("/api/auth/me", { session });
    expect(me.status).toBe(401);
    const chats = await api("/api/chats", { session });
    expect(chats.status).toBe(401);
  });

  it("rejects an expired session", async () => {
    const session = await signUp();
    await env.DB.prepare("UPDATE sessions SET expires_at = 1 WHERE user_id = ?").bind(session.userId).run();
    expect((await api("/api/auth/me", { session })).status).toBe(401);
  });

  it("requires a session on every route but sign-up and log-in", async () => {
    for (const [method, path] of [
      ["GET", "/api/auth/me"],
      ["GET", "/api/chats"],
      ["POST", "/api/chats"],
      ["GET", `/api/chats/${crypto.randomUUID()}`],
      ["PATCH", `/api/chats/${crypto.randomUUID()}`],
      ["DELETE", `/api/chats/${crypto.randomUUID()}`],
      ["GET", "/api/tokens"],
    ] as const) {
      const res = await api(path, { method, headers: { cookie: "sid=forged-token-value" } });
      await expectError(res, 401, "unauthorized", `${method} ${path}`);
    }
  });

  it("limits log-in attempts per account: the 11th in a minute is 429, even with the right password", async () => {
    const session = await signUp();
    for (let i = 0; i < 10; i++) {
      const res = await api("/api/auth/login", { body: { email: session.email, password: `wrong guess ${i}` } });
      expect(res.status).toBe(401);
    }
    const limited = await api("/api/auth/login", { body: { email: session.email, password } });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect((await json<{ error: { code: string } }>(limited)).error.code).toBe("rate_limited");
    expect(limited.headers.get("set-cookie")).toBeNull();
  });

  it("limits sign-ups per address whatever the email: the 11th account in a minute from one address is 429", async () => {
    const address = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    const headers = { "cf-connecting-ip": address };
    for (let i = 0; i < 10; i++) {
      const res = await api("/api/auth/signup", { headers, body: { email: uniqueEmail(`many-${i}`), password } });
      expect(res.status).toBe(201);
    }
    const limited = await api("/api/auth/signup", { headers, body: { email: uniqueEmail("one-more"), password } });
    await expectError(limited, 429, "rate_limited");
    // Another address is not held back by this one.
    const other = await api("/api/auth/signup", {
      headers: { "cf-connecting-ip": "203.0.113.7" },
      body: { email: uniqueEmail("elsewhere"), password },
    });
    expect(other.status).toBe(201);
  });

  it("refuses state-changing requests from another origin", async () => {
    const session = await signUp();
    const res = await api("/api/chats", { session, body: {}, headers: { origin: "https://evil.example" } });
    await expectError(res, 403, "forbidden_origin");
    const list = await json<{ chats: unknown[] }>(await api("/api/chats", { session }));
    expect(list.chats).toEqual([]);
  });
});

describe("API tokens", () => {
  it("creates a token that authenticates, lists it without the secret, and revokes it", async () => {
    const session = await signUp();
    const created = await api("/api/tokens", { session, body: { name: "ci script" } });
    expect(created.status).toBe(201);
    const { token, secret } = await json<{ token: { id: string }; secret: string }>(created);
    const auth = { authorization: `Bearer ${secret}` };
    const me = await api("/api/auth/me", { headers: auth });
    expect(me.status).toBe(200);
    const list = await api("/api/tokens", { session });
    const body = await list.text();
    expect(body).toContain("ci script");
    expect(body).not.toContain(secret);
    expect((await api(`/api/tokens/${token.id}`, { method: "DELETE", session })).status).toBe(204);
    expect((await api("/api/auth/me", { headers: auth })).status).toBe(401);
    expect((await api(`/api/tokens/${token.id}`, { method: "DELETE", session })).status).toBe(404);
  });

  it("does not let one user revoke another user's token", async () => {
    const alice = await signUp();
    const bob = await signUp();
    const { token } = await json<{ token: { id: string } }>(
      await api("/api/tokens", { session: alice, body: { name: "a" } }),
    );
    expect((await api(`/api/tokens/${token.id}`, { method: "DELETE", session: bob })).status).toBe(404);
  });
});
