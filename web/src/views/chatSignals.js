// Under a chat's messages: "Alice is typing…" and the read receipt of your latest message
// ("Seen by Bob, Carol", or "Seen by 12 of 40" in a large chat). Keystrokes in the composer
// become typing notices (throttled in signals.js).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import '../i18nAccounts.js';

// Up to this many other members, receipts name them; past it, they count.
export const NAMED_RECEIPTS_UP_TO = 5;

export function createChatSignals({ signals, chatId, myId, textarea }) {
  const typingLine = h('p', {
    class: 'typing-line',
    'data-testid': 'typing',
    'aria-live': 'polite',
  });
  const seenLine = h('p', { class: 'seen-line', 'data-testid': 'seen-by' });
  const element = h('div', { class: 'chat-signals' }, typingLine, seenLine);
  let ownLatest = 0; // databaseId of my newest message in this chat
  let others = []; // the other members: [{id, nickname}]

  function draw() {
    const typists = signals.typingIn(chatId);
    typingLine.textContent = typists.length
      ? t(typists.length === 1 ? 'isTyping' : 'areTyping', { names: typists.join(', ') })
      : '';
    const seen = ownLatest
      ? others.filter((user) => signals.readUpTo(chatId, user.id) >= ownLatest)
      : [];
    if (!seen.length) seenLine.textContent = '';
    else if (others.length <= NAMED_RECEIPTS_UP_TO) {
      seenLine.textContent = t('seenBy', { names: seen.map((user) => user.nickname).join(', ') });
    } else {
      seenLine.textContent = t('seenByCount', { n: seen.length, total: others.length });
    }
  }

  const onInput = () => {
    if (textarea.value.trim()) signals.typed(chatId);
    else signals.stoppedTyping(chatId);
  };
  textarea.addEventListener('input', onInput);
  const off = signals.changed.subscribe(draw);

  return {
    element,
    messagesChanged(messages) {
      ownLatest = 0;
      for (const message of messages) {
        if (message.sender.id === myId && message.databaseId > ownLatest) {
          ownLatest = message.databaseId;
        }
      }
      draw();
    },
    membersChanged(members) {
      others = (members ?? [])
        .filter((member) => member.user.id !== myId)
        .map((member) => member.user);
      signals.seedMembers(chatId, members);
    },
    sent: () => signals.stoppedTyping(chatId),
    stop() {
      textarea.removeEventListener('input', onInput);
      off();
    },
  };
}

/** A dot and a label for a member's presence, kept current as PresenceChanged events come. */
export function presenceBadge(signals, member) {
  const badge = h('span', { class: 'presence', 'data-testid': 'presence' });
  const draw = () => {
    const known = signals.presenceOf(member.user.id) ?? {
      online: member.online,
      lastSeenAt: member.lastSeenAt,
    };
    badge.dataset.online = known.online ? 'yes' : 'no';
    badge.textContent = known.online ? t('online') : lastSeen(known.lastSeenAt);
  };
  draw();
  const off = signals.changed.subscribe(() => (badge.isConnected ? draw() : off()));
  return badge;
}

function lastSeen(iso) {
  if (!iso) return t('offline');
  const date = new Date(iso);
  const minutes = Math.round((Date.now() - date.getTime()) / 60000);
  if (minutes < 1) return t('lastSeenJustNow');
  if (minutes < 60) return t('lastSeenMinutes', { n: minutes });
  return t('lastSeenAt', { time: date.toLocaleString() });
}
