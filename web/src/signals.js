// Live signals of the session: who is typing where, who is online, how far each member has
// read. Fed by the chatEvents subscription (feed.js hands these events over) and seeded from
// the members a chat view loads; the views subscribe to `changed` and redraw.
import { SET_TYPING } from './operations.js';
import { createStore } from './store.js';

export const TYPING_SHOWN_MS = 6000; // the server's typing notices come every 3 s at most
export const TYPING_SEND_EVERY_MS = 3000;

export function createSignals({ client, myId }) {
  const typing = new Map(); // chatId -> Map(userId -> {nickname, until})
  const presence = new Map(); // userId -> {online, lastSeenAt}
  const reads = new Map(); // chatId -> Map(userId -> readUpTo)
  const changed = createStore(0);
  const lastSent = new Map(); // chatId -> time of our last typing notice
  const bump = () => changed.update((n) => n + 1);
  let expiry = null;

  function scheduleExpiry() {
    clearTimeout(expiry);
    let next = Infinity;
    for (const users of typing.values()) {
      for (const entry of users.values()) next = Math.min(next, entry.until);
    }
    if (next !== Infinity) expiry = setTimeout(expire, Math.max(0, next - Date.now()) + 50);
  }

  function expire() {
    const now = Date.now();
    for (const [chatId, users] of typing) {
      for (const [userId, entry] of users) if (entry.until <= now) users.delete(userId);
      if (!users.size) typing.delete(chatId);
    }
    bump();
    scheduleExpiry();
  }

  function setTyping(chatId, user, on) {
    const users = typing.get(chatId) ?? new Map();
    if (on) users.set(user.id, { nickname: user.nickname, until: Date.now() + TYPING_SHOWN_MS });
    else users.delete(user.id);
    if (users.size) typing.set(chatId, users);
    else typing.delete(chatId);
    scheduleExpiry();
  }

  function setRead(chatId, userId, readUpTo) {
    const members = reads.get(chatId) ?? new Map();
    if ((members.get(userId) ?? 0) < readUpTo) members.set(userId, readUpTo);
    reads.set(chatId, members);
  }

  return {
    changed,
    /** Events of chatEvents that are signals: Typing, MessagesRead, PresenceChanged (one
     * person) and PresencesChanged (a batch of them, in order). */
    handle(event) {
      switch (event?.__typename) {
        case 'Typing':
          setTyping(event.chatId, event.user, event.typing);
          break;
        case 'MessagesRead':
          setRead(event.chatId, event.user.id, event.readUpTo);
          break;
        case 'PresenceChanged':
          presence.set(event.user.id, { online: event.online, lastSeenAt: event.lastSeenAt });
          break;
        case 'PresencesChanged':
          for (const change of event.changes ?? []) {
            presence.set(change.user.id, { online: change.online, lastSeenAt: change.lastSeenAt });
          }
          break;
        default:
          return;
      }
      bump();
    },
    /** A message arrived: its sender has stopped typing there. */
    messageArrived(message) {
      if (!typing.get(message.chatId)?.has(message.sender.id)) return;
      setTyping(message.chatId, message.sender, false);
      bump();
    },
    /** What a chat's members query said (live events after it win where they are newer). */
    seedMembers(chatId, members) {
      for (const member of members ?? []) {
        setRead(chatId, member.user.id, member.readUpTo ?? 0);
        if (!presence.has(member.user.id) && typeof member.online === 'boolean') {
          presence.set(member.user.id, { online: member.online, lastSeenAt: member.lastSeenAt });
        }
      }
      bump();
    },
    typingIn: (chatId) =>
      [...(typing.get(chatId)?.entries() ?? [])]
        .filter(([userId]) => userId !== myId)
        .map(([, entry]) => entry.nickname),
    presenceOf: (userId) => presence.get(userId) ?? null,
    readUpTo: (chatId, userId) => reads.get(chatId)?.get(userId) ?? 0,
    /** Called on each keystroke: tells the server at most every few seconds. */
    typed(chatId) {
      const now = Date.now();
      if (now - (lastSent.get(chatId) ?? 0) < TYPING_SEND_EVERY_MS) return;
      lastSent.set(chatId, now);
      send(chatId, true);
    },
    /** The message was sent (or the draft cleared): stop showing us as typing at once. */
    stoppedTyping(chatId) {
      if (!lastSent.has(chatId)) return;
      lastSent.delete(chatId);
      send(chatId, false);
    },
    stop() {
      clearTimeout(expiry);
    },
  };

  function send(chatId, on) {
    client.mutate({ mutation: SET_TYPING, variables: { chatId, typing: on } }).catch(() => {});
  }
}
