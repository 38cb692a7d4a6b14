// Messages being sent: shown at once (optimistic) with a clientId; replaced by the server's copy
// when it arrives (by mutation result or subscription, whichever is first); marked when sending
// fails, and retried with the same clientId so the server never stores it twice.
import { SEND_MESSAGE } from './operations.js';
import { appendMessage } from './cacheUpdates.js';
import { newClientId } from './ids.js';
import { createStore } from './store.js';

export function createOutbox({ client, onSent, onUnauthenticated }) {
  // chatId -> [{clientId, text, status: 'sending'|'failed', error, createdAt}]
  const pending = createStore(new Map());
  const confirmed = new Set();
  // One send at a time per chat, so messages typed quickly keep their order on the server.
  const queues = new Map();

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

  async function attempt(chatId, item) {
    setStatus(chatId, item.clientId, 'sending');
    try {
      const { data } = await client.mutate({
        mutation: SEND_MESSAGE,
        variables: { chatId, text: item.text, clientId: item.clientId },
      });
      const result = data?.sendMessage;
      if (result?.__typename === 'SendMessagePayload') {
        appendMessage(client.cache, result.message);
        onSent?.(result.message);
        confirm(result.message);
        return;
      }
      if (result?.__typename === 'Unauthenticated') onUnauthenticated?.();
      if (!confirmed.has(item.clientId)) {
        setStatus(chatId, item.clientId, 'failed', result ?? null);
      }
    } catch {
      if (!confirmed.has(item.clientId)) setStatus(chatId, item.clientId, 'failed', null);
    }
  }

  return {
    pending,
    confirm,
    send(chatId, text) {
      const item = {
        clientId: newClientId(),
        text,
        status: 'sending',
        error: null,
        createdAt: new Date().toISOString(),
      };
      change(chatId, (list) => [...list, item]);
      return enqueue(chatId, () => attempt(chatId, item));
    },
    retry(chatId, clientId) {
      const item = (pending.get().get(chatId) ?? []).find((entry) => entry.clientId === clientId);
      if (item) return enqueue(chatId, () => attempt(chatId, item));
      return Promise.resolve();
    },
  };
}
