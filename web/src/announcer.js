// One polite ARIA live region for the whole app: screen readers read what is put here when the
// user is idle (new messages), without moving focus.
import { h } from './dom.js';

let region = null;

export function announcerElement() {
  region ??= h('div', {
    class: 'sr-only',
    'aria-live': 'polite',
    'aria-atomic': 'true',
    'data-testid': 'announcer',
  });
  return region;
}

export function announce(text) {
  const element = announcerElement();
  // A change of text is what gets read; clear first so a repeated text is read again.
  element.textContent = '';
  setTimeout(() => {
    element.textContent = text;
  }, 50);
}
