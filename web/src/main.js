// Entry point: picks the screen (sign in or messenger) and owns the session's lifetime.
import './styles.css';
import { createApollo } from './apollo.js';
import { SIGN_OUT } from './operations.js';
import { onLanguageChange } from './i18n.js';
import { clearSession, loadSession, msUntilExpiry, saveSession } from './session.js';
import { startTheme } from './theme.js';
import { mountAuth } from './views/auth.js';
import { createServices, mountMessenger } from './views/messenger.js';

const root = document.getElementById('app');
let unmount = () => {};
let runtime = null; // {session, apollo} while signed in
let expiryTimer = null;
const authState = { mode: 'signin', values: {}, notice: null, rerender: () => render() };
let anonymousApollo = null;

function render() {
  unmount();
  if (runtime) {
    unmount = mountMessenger(root, {
      ...runtime,
      signOut: () => signOutHere(),
      expire: () => endSession('sessionExpired'),
      signedOutHere: () => endSession('signedOut'),
      accountDeleted: () => endSession('accountDeleted'),
    });
  } else {
    anonymousApollo ??= createApollo({ token: null });
    unmount = mountAuth(root, {
      client: anonymousApollo.client,
      state: authState,
      onSignedIn: (payload) => startSession(saveSession(payload)),
    });
  }
}

function startSession(session) {
  authState.notice = null;
  const apollo = createApollo({
    token: session.token,
    onUnauthenticated: () => endSession('sessionExpired'),
  });
  const services = createServices({
    apollo,
    session,
    expire: () => endSession('sessionExpired'),
  });
  runtime = { session, apollo, services };
  const remaining = msUntilExpiry(session);
  clearTimeout(expiryTimer);
  // setTimeout cannot wait longer than ~24.8 days; tokens live far shorter.
  if (remaining !== null && remaining < 2 ** 31 - 1) {
    expiryTimer = setTimeout(() => endSession('sessionExpired'), Math.max(remaining, 0));
  }
  if (!window.location.hash) window.location.hash = '#/';
  render();
}

// Signing out ends the session on the server too (the token stops working everywhere); the
// page signs out even if the server cannot be reached.
async function signOutHere() {
  if (!runtime) return;
  const request = runtime.apollo.client.mutate({ mutation: SIGN_OUT });
  await Promise.race([request.catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
  endSession('signedOut');
}

function endSession(noticeKey) {
  if (!runtime) return;
  clearTimeout(expiryTimer);
  clearSession();
  const { apollo, services } = runtime;
  runtime = null;
  unmount();
  unmount = () => {};
  services.stop();
  apollo.dispose();
  authState.notice = noticeKey;
  authState.mode = 'signin';
  window.location.hash = '';
  render();
}

startTheme();
onLanguageChange(() => render());

const stored = loadSession();
if (stored?.expired) {
  authState.notice = 'sessionExpired';
  render();
} else if (stored) {
  startSession(stored);
} else {
  render();
}
