// Hook for editing messages, which does not exist yet: the composer calls `editLast(chatId)`
// when Up is pressed in an empty composer. The helper that adds editing replaces this module's
// body (open the chat's last own message for editing and return true).

export function createEditing() {
  return {
    /** Starts editing the last own message in the chat; false when there is nothing to edit. */
    editLast: () => false,
  };
}
