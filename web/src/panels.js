// Overlays that sit over the page (the header menu, the members panel on narrow screens):
// Escape closes the newest one, a tap outside it closes it, and a back gesture (history) closes
// it instead of leaving the chat.

const open = []; // [{element, toggle, close, history}]
let listening = false;
let skipPop = 0; // popstate events caused by our own history.back()

function top() {
  return open[open.length - 1];
}

function onKeydown(event) {
  if (event.key !== 'Escape' || !open.length) return;
  event.preventDefault();
  top().close({ restoreFocus: true });
}

function onPointerDown(event) {
  const panel = top();
  if (!panel) return;
  if (panel.element.contains(event.target) || panel.toggle?.contains(event.target)) return;
  panel.close({ restoreFocus: false });
}

function onPopState() {
  if (skipPop > 0) {
    skipPop -= 1;
    return;
  }
  const panel = [...open].reverse().find((entry) => entry.history);
  if (panel) {
    panel.history = false; // the entry is gone already
    panel.close({ restoreFocus: true });
  }
}

function listen() {
  if (listening) return;
  listening = true;
  document.addEventListener('keydown', onKeydown);
  document.addEventListener('pointerdown', onPointerDown, true);
  window.addEventListener('popstate', onPopState);
}

/**
 * Registers an opened panel. `close({restoreFocus})` must hide it and call the returned
 * `release`. With `history: true` a history entry is pushed so that "back" closes it.
 */
export function trackPanel({ element, toggle, close, history = false }) {
  listen();
  const entry = { element, toggle, close, history };
  if (history) window.history.pushState({ mychatPanel: true }, '');
  open.push(entry);
  return function release({ leaveHistory = false } = {}) {
    const index = open.indexOf(entry);
    if (index === -1) return;
    open.splice(index, 1);
    if (entry.history && !leaveHistory) {
      entry.history = false;
      skipPop += 1;
      window.history.back();
    }
  };
}
