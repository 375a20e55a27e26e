// The console's only ways to the server: its session (/console/session, sign-in, sign-out) and the
// public GraphQL API (/graphql over HTTP, subscriptions over graphql-transport-ws). Cookie-authenticated
// writes carry the session's CSRF token; the server also checks the Origin a same-origin fetch sends.

let session = null;

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export class Forbidden extends ApiError {}

export function current() {
  return session;
}

// Mirrors the server's rule (conduit.auth.tokens.grants): `write` implies `read`, `admin` everything.
export function can(scope) {
  if (!session) return false;
  const have = new Set(session.scopes);
  if (have.has("admin") || have.has(scope)) return true;
  const [family, action] = scope.split(":");
  return action === "read" && have.has(`${family}:write`);
}

function signedOut() {
  session = null;
  window.dispatchEvent(new CustomEvent("conduit:signed-out"));
}

async function json(reply) {
  try {
    return await reply.json();
  } catch (_) {
    return {};
  }
}

export async function loadSession() {
  const reply = await fetch("/console/session", { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (reply.status === 401 || reply.status === 404) {
    session = null;
    return null;
  }
  if (!reply.ok) throw new ApiError(`the session could not be read (${reply.status})`);
  session = await json(reply);
  return session;
}

export async function signIn(email, password, organization) {
  const body = { email, password };
  if (organization) body.organization = organization;
  const reply = await fetch("/console/sign-in", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await json(reply);
  if (reply.ok) {
    await loadSession();
    return { ok: true };
  }
  return { ok: false, status: reply.status, error: data.error || data.message, retryAfter: reply.headers.get("Retry-After") };
}

export async function signOut() {
  await fetch("/console/sign-out", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-Conduit-CSRF": session ? session.csrfToken : "" },
  });
  signedOut();
}

export async function gql(query, variables = {}) {
  const reply = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      "X-Conduit-CSRF": session ? session.csrfToken : "",
    },
    body: JSON.stringify({ query, variables }),
  });
  if (reply.status === 401) {
    signedOut();
    throw new ApiError("signed out", "UNAUTHENTICATED");
  }
  const body = await json(reply);
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const code = first.extensions && first.extensions.code;
    const message = body.errors.map((e) => e.message).join("; ");
    if (code === "FORBIDDEN") throw new Forbidden(message, code);
    throw new ApiError(message || `the API answered ${reply.status}`, code);
  }
  if (!body.data) throw new ApiError(`the API answered ${reply.status}`);
  return body.data;
}

// A mutation's union result: its payload, or the typed error it answered, thrown.
export function payload(result, typename) {
  if (result && result.__typename === typename) return result;
  const message = (result && result.message) || "the request failed";
  if (result && result.__typename === "ForbiddenError") throw new Forbidden(message, "FORBIDDEN");
  throw new ApiError(message, result && result.__typename);
}

// Subscribes over graphql-transport-ws; reconnects with backoff until the returned function is called.
// The WebSocket carries the session cookie, as the page's own origin. `onReady` runs once the server
// has the subscription, each time it is made: what happened before (or while reconnecting) was not
// sent, so that is when a page catches up. `data-live` on <html> says whether the page is live.
export function subscribe(query, variables, onData, onReady = () => {}) {
  let socket = null;
  let stopped = false;
  let failures = 0;
  let timer = null;
  const open = () => {
    socket = new WebSocket(`${location.origin.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws");
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "connection_ack") {
        failures = 0;
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
        document.documentElement.dataset.live = "on";
        onReady();
      } else if (data.type === "next" && data.payload && data.payload.data) {
        onData(data.payload.data);
      } else if (data.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = (event) => {
      document.documentElement.dataset.live = "off";
      if (stopped || event.code === 4401 || event.code === 4403) return;
      failures += 1;
      timer = setTimeout(open, Math.min(30000, 500 * 2 ** failures));
    };
  };
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    delete document.documentElement.dataset.live;
    if (socket) socket.close(1000);
  };
}
