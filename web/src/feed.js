// The one live subscription, `chatEvents`, for every chat of the user. It remembers the newest
// message id seen; when the socket drops it resubscribes with `after:` that id, so messages sent
// meanwhile arrive (the server replays them) and duplicates are dropped by id in the cache.
import { CHAT_EVENTS } from './operations.js';
import { addChatToList, appendMessage, removeChatFromList } from './cacheUpdates.js';
import { createStore } from './store.js';
import { isSystemLine } from './timeline.js';

export function createFeed({
  client,
  wsClient,
  onRemovedFromChat,
  onReconnected,
  onMessage,
  onSignal,
}) {
  let newest = null; // {databaseId, id} of the newest message seen anywhere
  let subscription = null;
  let stopped = false;
  let noteCounter = 0;
  // chatId -> [{key, kind: 'joined'|'left', name, afterDatabaseId}] shown as system lines
  const notes = createStore(new Map());
  const newestInChat = new Map();
  // The last live messages of each chat: a history page fetched while they arrived may not
  // have them yet, so the chat view adds them back (see `recentMessages`).
  const recentByChat = new Map();
  const RECENT_PER_CHAT = 50;
  // Told about every live message (notifications, screen reader announcements).
  const liveListeners = new Set();

  function rememberLive(message) {
    const list = recentByChat.get(message.chatId) ?? [];
    list.push(message);
    if (list.length > RECENT_PER_CHAT) list.shift();
    recentByChat.set(message.chatId, list);
  }

  // Where the chat's system notes go: after the newest message known in it.
  function noteMessage(message) {
    if (!message || typeof message.databaseId !== 'number') return;
    const inChat = newestInChat.get(message.chatId) ?? 0;
    if (message.databaseId > inChat) newestInChat.set(message.chatId, message.databaseId);
  }

  // With no message seen yet but the chat list read, "0" (a bare id) asks for every message
  // from now on, so nothing sent during a first drop is lost; unread (null) means live only.
  let seeded = false;
  function resumeCursor() {
    if (newest) return newest.id;
    return seeded ? '0' : null;
  }

  // The resume cursor only moves with what this feed delivered (and the chat list read just
  // before it started): a newer id learnt elsewhere could skip messages it has not delivered.
  function advanceCursor(message) {
    noteMessage(message);
    if (!message || typeof message.databaseId !== 'number') return;
    if (!newest || message.databaseId > newest.databaseId) {
      newest = { databaseId: message.databaseId, id: message.id };
    }
  }

  function addNote(chatId, kind, name, by = null) {
    noteCounter += 1;
    const note = {
      key: `note-${noteCounter}`,
      kind,
      name,
      by,
      afterDatabaseId: newestInChat.get(chatId) ?? 0,
    };
    notes.update((current) => {
      const next = new Map(current);
      next.set(chatId, [...(next.get(chatId) ?? []), note]);
      return next;
    });
  }

  function handle(event) {
    const { cache } = client;
    switch (event?.__typename) {
      case 'MessageAdded':
        if (isSystemLine(event.message)) {
          // "X joined" and the like (replayed by a catch-up): history, never a notification.
          advanceCursor(event.message);
          appendMessage(cache, event.message);
          break;
        }
        advanceCursor(event.message);
        rememberLive(event.message);
        addChatToList(cache, event.chat);
        // After the chat: its lastMessage / lastActivityAt never go back past this message.
        appendMessage(cache, event.message);
        onMessage?.(event.message);
        for (const listener of [...liveListeners]) listener(event.message, event.chat);
        break;
      case 'MessageEdited':
      case 'MessageDeleted':
      case 'ReactionsChanged':
        // Apollo wrote the message as it is now into the normalised cache (same id): every
        // view of it (the chat, the chat list's preview) redraws from there.
        break;
      case 'MemberAdded':
      case 'MemberLeft':
        // The server stores the line in the history; an older server sends none: a note.
        if (event.line) {
          advanceCursor(event.line);
          appendMessage(cache, event.line);
        } else if (event.__typename === 'MemberAdded') {
          addNote(event.chat.id, 'joined', event.member.user.nickname);
        } else {
          addNote(event.chat.id, 'left', event.user.nickname);
        }
        break;
      case 'AddedToChat':
        if (event.chat.lastMessage) noteMessage(event.chat.lastMessage);
        addChatToList(cache, event.chat);
        break;
      case 'RemovedFromChat':
        onRemovedFromChat?.(event.chatId);
        removeChatFromList(cache, event.chatId);
        break;
      case 'ChatRenamed':
        cache.modify({
          id: cache.identify({ __typename: 'Chat', id: event.chatId }),
          fields: { name: () => event.name },
        });
        // The stored system line of the history; an older server sends none: a note.
        if (event.line) appendMessage(cache, event.line);
        else addNote(event.chatId, 'renamed', event.name, event.by.nickname);
        break;
      case 'MemberRemoved':
        if (event.line) appendMessage(cache, event.line);
        else addNote(event.chatId, 'removed', event.user.nickname, event.by.nickname);
        client.refetchQueries({ include: 'active' }).catch(() => {});
        break;
      case 'OwnerChanged':
        addNote(event.chatId, 'owner', event.owner.nickname);
        client.refetchQueries({ include: 'active' }).catch(() => {});
        break;
      default:
        onSignal?.(event); // typing, read receipts, presence: see signals.js
        break;
    }
  }

  function restartAfter(error) {
    const codes = (error?.errors ?? []).map((e) => e.extensions?.code);
    if (codes.includes('UNAUTHENTICATED')) return; // the session ends (see apollo.js)
    if (codes.includes('BAD_USER_INPUT')) newest = null; // a cursor the server no longer knows
    subscription?.unsubscribe();
    subscription = null;
    setTimeout(subscribe, 1000);
  }

  function subscribe() {
    subscription?.unsubscribe();
    subscription = null;
    if (stopped) return;
    subscription = client
      .subscribe({ query: CHAT_EVENTS, variables: { after: resumeCursor() } })
      .subscribe({
        next: (result) => {
          if (result.data?.chatEvents) handle(result.data.chatEvents);
          else if (result.error) restartAfter(result.error);
        },
        // A server-side error ends the subscription: start again from the newest id seen.
        error: restartAfter,
        complete: () => {
          if (!stopped) setTimeout(subscribe, 1000);
        },
      });
  }

  let sawClose = false;
  const unlisten = [];
  if (wsClient) {
    unlisten.push(
      wsClient.on('closed', () => {
        if (stopped) return;
        sawClose = true;
        // Resubscribe now (after graphql-ws settles) so the retry carries the newest cursor.
        setTimeout(subscribe, 0);
      }),
      wsClient.on('connected', () => {
        if (sawClose && !stopped) {
          sawClose = false;
          onReconnected?.();
        }
      }),
    );
  }

  return {
    notes,
    noteMessage,
    /** Seeds the resume cursor from the chat list's last messages, read before `start`. */
    seedCursor(messages) {
      seeded = true;
      for (const message of messages) advanceCursor(message);
    },
    recentMessages: (chatId) => recentByChat.get(chatId) ?? [],
    /** `listener(message, chat)` for each live message; returns the unsubscribe function. */
    onLiveMessage(listener) {
      liveListeners.add(listener);
      return () => liveListeners.delete(listener);
    },
    start: subscribe,
    stop() {
      stopped = true;
      subscription?.unsubscribe();
      for (const off of unlisten) off();
    },
  };
}
