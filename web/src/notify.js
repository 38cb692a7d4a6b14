// Others' new messages while the user looks elsewhere: a browser notification (if allowed) when
// the tab is in the background or another chat is open, and a polite screen-reader announcement.
// Never for the user's own messages.
import { announce } from './announcer.js';
import { t } from './i18n.js';
import { createStore } from './store.js';

const MAX_BODY = 140;

function supported() {
  return typeof window.Notification === 'function';
}

/** 'unsupported' | 'default' | 'granted' | 'denied', as a store the menu can show. */
export const notificationPermission = createStore(
  supported() ? window.Notification.permission : 'unsupported',
);

export async function askNotificationPermission() {
  if (!supported()) return;
  try {
    notificationPermission.set(await window.Notification.requestPermission());
  } catch {
    notificationPermission.set(window.Notification.permission);
  }
}

export function startNotifier({ feed, route, myId, chatHref }) {
  return feed.onLiveMessage((message, chat) => {
    if (!message || message.sender.id === myId) return;
    const looking = route.get().chatId === message.chatId;
    const visible = document.visibilityState === 'visible';
    const preview = message.text.replace(/\s+/g, ' ').slice(0, MAX_BODY);
    if (looking && visible) {
      announce(t('announceMessage', { name: message.sender.nickname, text: preview }));
      return;
    }
    if (visible) {
      announce(t('announceOtherChat', { name: message.sender.nickname, chat: chat?.name ?? '' }));
    }
    if (!supported() || window.Notification.permission !== 'granted') return;
    try {
      const notification = new window.Notification(chat?.name ?? t('appName'), {
        body: `${message.sender.nickname}: ${preview}`,
        tag: `mychat-${message.chatId}`,
      });
      notification.onclick = () => {
        window.focus();
        window.location.hash = chatHref(message.chatId);
        notification.close();
      };
    } catch {
      // Some browsers allow notifications only from a service worker: nothing to show then.
    }
  });
}
