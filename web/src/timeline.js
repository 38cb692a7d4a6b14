// What the chat view lists, in order: day separators, messages (grouped when the same person
// writes several in a row), system notes, the "New messages" divider, then sends in progress.
import { t, getLanguage } from './i18n.js';

const GROUP_WITHIN_MS = 5 * 60 * 1000;

/** The local calendar day of a timestamp, as YYYY-MM-DD. */
export function dayKey(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** "Today", "Yesterday" or the date (with the year when it is not this year). */
export function dayLabel(date, now = new Date()) {
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (dayKey(date) === dayKey(now)) return t('today');
  if (dayKey(date) === dayKey(yesterday)) return t('yesterday');
  const options = { weekday: 'long', day: 'numeric', month: 'long' };
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric';
  return new Intl.DateTimeFormat(getLanguage(), options).format(date);
}

/**
 * Items for `reconcile`: {kind: 'day'|'message'|'note'|'divider'|'pending', key, ...}.
 * A message's key says whether it is grouped with the one above, so it is redrawn when older
 * history loading above changes that.
 */
/** "X joined", "X left", …: a line of the history nobody wrote (Message.kind other than TEXT). */
export function isSystemLine(message) {
  return Boolean(message?.kind) && message.kind !== 'TEXT';
}

export function buildTimeline({ messages, notes, pending, firstUnreadId }) {
  const ordered = [
    ...messages.map((message) => ({ order: message.databaseId, message })),
    ...notes.map((note) => ({ order: note.afterDatabaseId + 0.5, note })),
  ].sort((a, b) => a.order - b.order);

  const items = [];
  let previous = null; // the message just above, if nothing separates them
  let day = null;
  for (const entry of ordered) {
    if (entry.note) {
      items.push({ kind: 'note', key: entry.note.key, note: entry.note });
      previous = null;
      continue;
    }
    const { message } = entry;
    const date = new Date(message.createdAt);
    const thisDay = dayKey(date);
    if (thisDay !== day) {
      day = thisDay;
      items.push({ kind: 'day', key: `day:${thisDay}`, date });
      previous = null;
    }
    if (isSystemLine(message)) {
      items.push({ kind: 'system', key: `system:${message.id}`, message });
      previous = null;
      continue;
    }
    if (message.id === firstUnreadId) {
      items.push({ kind: 'divider', key: 'unread-divider' });
      previous = null;
    }
    const grouped =
      previous !== null &&
      previous.sender.id === message.sender.id &&
      date - new Date(previous.createdAt) < GROUP_WITHIN_MS;
    items.push({ kind: 'message', key: `${message.id}${grouped ? ':g' : ''}`, message, grouped });
    previous = message;
  }
  const serverClientIds = new Set(messages.map((m) => m.clientId).filter(Boolean));
  for (const item of pending) {
    if (!serverClientIds.has(item.clientId)) {
      items.push({ kind: 'pending', key: `pending:${item.clientId}`, pending: item });
    }
  }
  return items;
}

/**
 * The first unread message when a chat opens with `unreadCount` unread: counting back over
 * others' messages (one's own are never unread). Null when nothing is unread.
 */
export function firstUnread(messages, unreadCount, myId) {
  if (!unreadCount) return null;
  let remaining = unreadCount;
  let found = null;
  for (let index = messages.length - 1; index >= 0 && remaining > 0; index -= 1) {
    if (messages[index].sender.id !== myId && !isSystemLine(messages[index])) {
      found = messages[index];
      remaining -= 1;
    }
  }
  return found?.id ?? null;
}
