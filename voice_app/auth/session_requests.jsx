/**
 * The two requests that start and end the browser's session cookie. The cookie can only be set
 * by an HTTP response (a Reflex event travels over the WebSocket, which cannot set cookies), so
 * the page sends them itself; `session_requests.py` wraps each export and documents it. The
 * token never passes through this code: it is in the response's Set-Cookie, which no script can
 * read. Only facts go back to Python (status, the API's sentence and field errors).
 */
import { useEffect, useRef } from "react";
import env from "$/env.json";
import { getBackendURL } from "$/utils/state";

/** `path` on the backend host the state's WebSocket also connects to, so both share the cookie. */
function backendUrl(path) {
  return new URL(path, getBackendURL(env.PING)).href;
}

/** POST `body` (JSON, if any) with the browser's cookies; `status` 0 when the server was not reached. */
async function post(path, body) {
  let response;
  try {
    response = await fetch(backendUrl(path), {
      method: "POST",
      credentials: "include",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, detail: "", errors: [] };
  }
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    // 204, or not JSON: the status says enough.
  }
  return {
    ok: response.ok,
    status: response.status,
    detail: answer?.detail ?? "",
    errors: Array.isArray(answer?.errors) ? answer.errors : [],
  };
}

/**
 * A form that posts its named fields as a JSON object to `action`. On success it loads `nextPath`
 * afresh, so the new page's WebSocket carries the new cookie; otherwise it reports
 * `{status, detail, errors}` through `onRefused`.
 */
export function SessionForm({ action, nextPath, onRefused, children, ...props }) {
  const pending = useRef(false);
  const submit = async (event) => {
    event.preventDefault();
    if (pending.current) return;
    pending.current = true;
    const result = await post(action, Object.fromEntries(new FormData(event.currentTarget)));
    if (result.ok) {
      window.location.replace(nextPath);
      return;
    }
    pending.current = false;
    onRefused?.({ status: result.status, detail: result.detail, errors: result.errors });
  };
  return (
    <form onSubmit={submit} {...props}>
      {children}
    </form>
  );
}

/** Once mounted, posts `action` (the sign-out route) and reports `{ok}` through `onDone`. */
export function SignOut({ action, onDone }) {
  const latestOnDone = useRef(onDone);
  latestOnDone.current = onDone;
  useEffect(() => {
    let mounted = true;
    post(action).then((result) => {
      if (mounted) latestOnDone.current?.({ ok: result.ok });
    });
    return () => {
      mounted = false;
    };
  }, [action]);
  return null;
}
