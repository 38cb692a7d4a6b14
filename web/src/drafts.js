// What was typed but not sent, per chat, for the session: switching chats keeps it.

export function createDrafts() {
  const drafts = new Map();
  return {
    get: (chatId) => drafts.get(chatId) ?? '',
    set(chatId, text) {
      if (text) drafts.set(chatId, text);
      else drafts.delete(chatId);
    },
  };
}
