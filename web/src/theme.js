// Light or dark: follows the system unless the user picked one (kept in localStorage). The
// resolved theme is set as `data-theme` on <html>; styles.css has one block per theme.

const STORAGE_KEY = 'mychat.theme';
export const THEMES = ['system', 'light', 'dark'];
const DARK_QUERY = '(prefers-color-scheme: dark)';

let choice = readChoice();
const listeners = new Set();

function readChoice() {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return THEMES.includes(stored) ? stored : 'system';
  } catch {
    return 'system';
  }
}

function resolved() {
  if (choice !== 'system') return choice;
  return window.matchMedia(DARK_QUERY).matches ? 'dark' : 'light';
}

function apply() {
  const theme = resolved();
  document.documentElement.dataset.theme = theme;
  for (const listener of listeners) listener(theme);
}

export function getThemeChoice() {
  return choice;
}

export function setThemeChoice(next) {
  if (!THEMES.includes(next)) return;
  choice = next;
  try {
    if (next === 'system') localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Without storage the choice lasts for this page.
  }
  apply();
}

/** Applies the theme now and whenever the system setting changes. */
export function startTheme() {
  window.matchMedia(DARK_QUERY).addEventListener('change', () => {
    if (choice === 'system') apply();
  });
  apply();
}
