// The signed-in session (token, user, expiry) kept in localStorage across reloads.

const STORAGE_KEY = 'mychat.session';

/** The stored session, `{expired: true}` when its token has expired, or null. */
export function loadSession() {
  let raw = null;
  try {
    raw = localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const session = JSON.parse(raw);
    if (!session || typeof session.token !== 'string' || !session.user) throw new Error('bad');
    if (isExpired(session)) {
      clearSession();
      return { expired: true };
    }
    return session;
  } catch {
    clearSession();
    return null;
  }
}

export function saveSession({ token, user, expiresAt }) {
  const session = {
    token,
    user: { id: user.id, login: user.login, nickname: user.nickname },
    expiresAt,
  };
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  } catch {
    // Without storage the session lasts until the page is closed.
  }
  return session;
}

export function clearSession() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
}

export function isExpired(session) {
  const expiresAt = Date.parse(session.expiresAt);
  return Number.isFinite(expiresAt) && expiresAt <= Date.now();
}

/** Milliseconds until the token expires (null if unknown). */
export function msUntilExpiry(session) {
  const expiresAt = Date.parse(session.expiresAt);
  return Number.isFinite(expiresAt) ? expiresAt - Date.now() : null;
}
