// The composer calls `editLast(chatId)` when Up is pressed in an empty composer; the chat on
// screen registers how to start editing its last own message (views/messageActions.js).

export function createEditing() {
  let handler = null;
  return {
    /** Starts editing the last own message in the chat; false when there is nothing to edit. */
    editLast: (chatId) => handler?.(chatId) ?? false,
    /** The open chat's `(chatId) => boolean`; returns the function that removes it. */
    register(next) {
      handler = next;
      return () => {
        if (handler === next) handler = null;
      };
    },
  };
}
