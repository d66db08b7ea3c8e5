// The console's calls to the api. The session is an HttpOnly cookie the
// page cannot read; the CSRF token it must send on every call that is not
// a GET lives only here, in memory (re-read from GET /ui/session after a
// reload). Nothing is kept in localStorage or sessionStorage.

let csrf = '';
let onSignedOut = () => {};

/** ApiError is an answer that was not 2xx: status and the api's message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** whenSignedOut sets what happens when a call finds the session gone. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

async function call(method, path, { body, json, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  let payload;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/yaml';
    payload = body;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store', signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, err.message || String(err));
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.trim() };
    }
  }
  if (!res.ok) {
    const message = (data && data.error) || res.statusText || String(res.status);
    if (res.status === 401 && path.startsWith('/v1/')) {
      csrf = '';
      onSignedOut();
    }
    throw new ApiError(res.status, message, data);
  }
  return data;
}

export const api = {
  get: (path, opts) => call('GET', path, opts),
  post: (path, opts) => call('POST', path, opts),
  put: (path, opts) => call('PUT', path, opts),
  del: (path, opts) => call('DELETE', path, opts),
};

/** session reads the current session (GET /ui/session); null when signed out. */
export async function session() {
  try {
    const s = await call('GET', '/ui/session');
    csrf = s.csrf;
    return s;
  } catch (err) {
    if (err.status === 401) {
      csrf = '';
      return null;
    }
    throw err;
  }
}

/** signIn trades an admin token for the session cookie. */
export async function signIn(token) {
  const s = await call('POST', '/ui/session', { json: { token } });
  csrf = s.csrf;
  return s;
}

/** signOut ends the session. */
export async function signOut() {
  try {
    await call('DELETE', '/ui/session');
  } finally {
    csrf = '';
  }
}

/** enc escapes one path segment. */
export const enc = encodeURIComponent;
