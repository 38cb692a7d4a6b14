// The header's secondary controls: theme switch, notifications, and the menu that holds them
// (with language, GraphiQL and sign out) at phone width.
import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import { THEMES, getThemeChoice, setThemeChoice } from '../theme.js';
import { askNotificationPermission, notificationPermission } from '../notify.js';
import { trackPanel } from '../panels.js';
import { picker } from './common.js';

const THEME_LABELS = { system: 'themeSystem', light: 'themeLight', dark: 'themeDark' };

export function themePicker() {
  return picker({
    name: 'theme',
    label: t('theme'),
    testId: 'theme',
    choices: THEMES.map((theme) => [theme, t(THEME_LABELS[theme])]),
    value: getThemeChoice(),
    onChange: setThemeChoice,
  });
}

/** A button asking for permission, or a note saying how notifications stand. */
export function notificationsControl() {
  const area = h('div', { class: 'notifications-control' });
  const draw = (permission) => {
    if (permission === 'default') {
      area.replaceChildren(
        h('button', {
          type: 'button',
          class: 'ghost small',
          'data-testid': 'enable-notifications',
          onClick: askNotificationPermission,
          text: t('enableNotifications'),
        }),
      );
    } else if (permission === 'granted' || permission === 'denied') {
      area.replaceChildren(
        h('span', {
          class: 'hint',
          'data-testid': 'notifications-state',
          text: t(permission === 'granted' ? 'notificationsOn' : 'notificationsBlocked'),
        }),
      );
    } else {
      area.replaceChildren();
    }
  };
  draw(notificationPermission.get());
  const off = notificationPermission.subscribe(draw);
  return { element: area, stop: off };
}

/**
 * `items` shown inline on wide screens; at phone width behind a "Menu" button (a disclosure:
 * Escape or a tap outside closes it).
 */
export function headerMenu(items) {
  const panelId = uid('menu');
  const panel = h('div', { id: panelId, class: 'header-menu-panel' }, items);
  let release = null;
  const toggle = h('button', {
    type: 'button',
    class: 'ghost menu-toggle',
    'aria-expanded': 'false',
    'aria-controls': panelId,
    'data-testid': 'menu-toggle',
    text: t('menu'),
    onClick: () => setOpen(release === null),
  });
  function setOpen(open, { restoreFocus = false } = {}) {
    panel.classList.toggle('open', open);
    toggle.setAttribute('aria-expanded', String(open));
    if (open && release === null) {
      release = trackPanel({
        element: panel,
        toggle,
        close: (options) => setOpen(false, options),
      });
      panel.querySelector('select, button, a')?.focus();
    } else if (!open && release) {
      release();
      release = null;
      if (restoreFocus) toggle.focus();
    }
  }
  const element = h('div', { class: 'header-menu' }, toggle, panel);
  return { element, close: () => setOpen(false) };
}
