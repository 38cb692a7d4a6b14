// Messages being sent: shown at once (optimistic) with a clientId; replaced by the server's copy
// when it arrives (by mutation result or subscription, whichever is first).
// A send that cannot reach the server waits ('waiting', not an error) and goes again by itself
// when the connection returns (or on a growing timer), in order, once each: the same clientId
// makes a repeat harmless, since the server stores a clientId once. Only a refusal (a typed
// error or a GraphQL error) marks it 'failed', with a Retry button.
import { CombinedGraphQLErrors } from '@apollo/client';
import { SEND_MESSAGE } from './operations.js';
import { appendMessage } from './cacheUpdates.js';
import { newClientId } from './ids.js';
import { createStore } from './store.js';

const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 30_000;

export function createOutbox({ client, connection, onSent, onUnauthenticated }) {
  // chatId -> [{clientId, text, status: 'sending'|'waiting'|'failed', error, createdAt}]
  const pending = createStore(new Map());
  const confirmed = new Set();
  // One send at a time per chat, so messages keep their order on the server.
  const queues = new Map();
  let retryTimer = null;
  let retryDelay = FIRST_RETRY_MS;
  let stopped = false;

  function enqueue(chatId, task) {
    const run = (queues.get(chatId) ?? Promise.resolve()).then(task);
    queues.set(chatId, run);
    return run;
  }

  function change(chatId, fn) {
    pending.update((current) => {
      const next = new Map(current);
      const list = fn(next.get(chatId) ?? []);
      if (list.length) next.set(chatId, list);
      else next.delete(chatId);
      return next;
    });
  }

  function items(chatId) {
    return pending.get().get(chatId) ?? [];
  }

  function setStatus(chatId, clientId, status, error = null) {
    change(chatId, (list) =>
      list.map((item) => (item.clientId === clientId ? { ...item, status, error } : item)),
    );
  }

  /** The server's copy with this clientId exists: drop the optimistic one. */
  function confirm(message) {
    if (!message?.clientId) return;
    confirmed.add(message.clientId);
    change(message.chatId, (list) => list.filter((item) => item.clientId !== message.clientId));
  }

  /** One try; 'sent', 'refused' or 'offline'. */
  async function attempt(chatId, item) {
    if (confirmed.has(item.clientId)) return 'sent';
    setStatus(chatId, item.clientId, 'sending');
    try {
      const { data } = await client.mutate({
        mutation: SEND_MESSAGE,
        variables: {
          chatId,
          text: item.text,
          clientId: item.clientId,
          replyTo: item.replyTo?.messageId ?? null,
        },
      });
      const result = data?.sendMessage;
      if (result?.__typename === 'SendMessagePayload') {
        appendMessage(client.cache, result.message);
        onSent?.(result.message);
        confirm(result.message);
        return 'sent';
      }
      if (result?.__typename === 'Unauthenticated') onUnauthenticated?.();
      if (!confirmed.has(item.clientId)) setStatus(chatId, item.clientId, 'failed', result ?? null);
      return 'refused';
    } catch (error) {
      if (confirmed.has(item.clientId)) return 'sent';
      if (CombinedGraphQLErrors.is(error)) {
        setStatus(chatId, item.clientId, 'failed', null);
        return 'refused';
      }
      // No answer (offline, server restarting, proxy error): wait for the connection.
      setStatus(chatId, item.clientId, 'waiting');
      scheduleRetry();
      return 'offline';
    }
  }

  /** Sends this chat's waiting messages in order; stops at the first that cannot go. */
  function flushChat(chatId) {
    return enqueue(chatId, async () => {
      for (const item of items(chatId).filter((entry) => entry.status === 'waiting')) {
        if ((await attempt(chatId, item)) === 'offline') return;
      }
    });
  }

  function flush() {
    if (stopped) return;
    clearTimeout(retryTimer);
    retryTimer = null;
    for (const [chatId, list] of pending.get()) {
      if (list.some((item) => item.status === 'waiting')) flushChat(chatId);
    }
  }

  function scheduleRetry() {
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      retryDelay = Math.min(retryDelay * 2, MAX_RETRY_MS);
      flush();
    }, retryDelay);
  }

  const offConnection = connection?.subscribe((state) => {
    if (state === 'connected') {
      retryDelay = FIRST_RETRY_MS;
      flush();
    }
  });
  const onOnline = () => flush();
  window.addEventListener('online', onOnline);

  return {
    pending,
    confirm,
    /** `replyTo`: the quote ({messageId, sender, text, deletedAt}) of the message answered. */
    send(chatId, text, replyTo = null) {
      const item = {
        clientId: newClientId(),
        text,
        replyTo,
        status: 'sending',
        error: null,
        createdAt: new Date().toISOString(),
      };
      change(chatId, (list) => [...list, item]);
      return enqueue(chatId, async () => {
        // Behind messages still waiting for the connection: wait with them, in order.
        const before = items(chatId).filter((entry) => entry.clientId !== item.clientId);
        if (before.some((entry) => entry.status === 'waiting')) {
          setStatus(chatId, item.clientId, 'waiting');
          scheduleRetry();
          return;
        }
        await attempt(chatId, item);
      });
    },
    retry(chatId, clientId) {
      const item = items(chatId).find((entry) => entry.clientId === clientId);
      if (item) return enqueue(chatId, () => attempt(chatId, item));
      return Promise.resolve();
    },
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      offConnection?.();
      window.removeEventListener('online', onOnline);
    },
  };
}
