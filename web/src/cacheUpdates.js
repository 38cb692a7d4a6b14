// Writes that keep the normalised cache's lists right when something happens live.
import { CHAT_LIST_FIELDS, MESSAGE_FIELDS } from './operations.js';
import { sortEdges } from './apollo.js';
import { isSystemLine } from './timeline.js';

/** Adds a message to its chat's loaded history (if loaded), once, in id order. */
export function appendMessage(cache, message) {
  const messageRef = cache.writeFragment({
    fragment: MESSAGE_FIELDS,
    fragmentName: 'MessageFields',
    data: message,
  });
  const chatCacheId = cache.identify({ __typename: 'Chat', id: message.chatId });
  if (!messageRef || !chatCacheId) return;
  cache.modify({
    id: chatCacheId,
    fields: {
      messages(existing, { readField }) {
        if (!existing || !Array.isArray(existing.edges)) return existing;
        if (existing.edges.some((edge) => readField('id', edge.node) === message.id)) {
          return existing;
        }
        const edge = { __typename: 'MessageEdge', cursor: message.id, node: messageRef };
        return { ...existing, edges: sortEdges([...existing.edges, edge], readField) };
      },
      lastMessage(existing, { readField }) {
        if (isSystemLine(message)) return existing; // the list previews what people wrote
        const current = existing ? readField('databaseId', existing) : null;
        return current === null || current === undefined || current < message.databaseId
          ? messageRef
          : existing;
      },
      lastActivityAt(existing) {
        if (isSystemLine(message)) return existing;
        return !existing || Date.parse(existing) < Date.parse(message.createdAt)
          ? message.createdAt
          : existing;
      },
    },
  });
}

/** Puts a chat into the chat list (the list sorts itself by last activity). */
export function addChatToList(cache, chat) {
  const chatRef = cache.writeFragment({
    fragment: CHAT_LIST_FIELDS,
    fragmentName: 'ChatListFields',
    data: chat,
  });
  if (!chatRef) return;
  cache.modify({
    fields: {
      chats(existing, { readField }) {
        if (!existing || !Array.isArray(existing.edges)) return existing;
        if (existing.edges.some((edge) => readField('id', edge.node) === chat.id)) return existing;
        const edge = { __typename: 'ChatEdge', cursor: chat.id, node: chatRef };
        return { ...existing, edges: [edge, ...existing.edges] };
      },
    },
  });
}

/** Takes a chat out of the chat list and drops it from the cache. */
export function removeChatFromList(cache, chatId) {
  cache.modify({
    fields: {
      chats(existing, { readField }) {
        if (!existing || !Array.isArray(existing.edges)) return existing;
        return {
          ...existing,
          edges: existing.edges.filter((edge) => readField('id', edge.node) !== chatId),
        };
      },
    },
  });
  const cacheId = cache.identify({ __typename: 'Chat', id: chatId });
  if (cacheId) cache.evict({ id: cacheId });
  cache.gc();
}
