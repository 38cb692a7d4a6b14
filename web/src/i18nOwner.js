// Strings of owner actions and direct chats, English and Russian.
import { addMessages } from './i18n.js';

addMessages('en', {
  renameChat: 'Rename the chat',
  rename: 'Rename',
  removeMember: 'Remove',
  removeMemberLabel: 'Remove {name}',
  makeOwner: 'Make owner',
  makeOwnerLabel: 'Make owner: {name}',
  chatRenamedNote: '{by} renamed the chat to “{name}”',
  memberRemovedNote: '{by} removed {name}',
  ownerChangedNote: '{name} is now the owner',
  directChat: 'Message someone',
  directChatStart: 'Open',
  notOwner: 'Only the owner can do that.',
});
addMessages('ru', {
  renameChat: 'Переименовать чат',
  rename: 'Переименовать',
  removeMember: 'Удалить',
  removeMemberLabel: 'Удалить {name} из чата',
  makeOwner: 'Сделать владельцем',
  makeOwnerLabel: 'Сделать владельцем: {name}',
  chatRenamedNote: '{by} переименовал(а) чат в «{name}»',
  memberRemovedNote: '{by} удалил(а) {name}',
  ownerChangedNote: '{name} теперь владелец',
  directChat: 'Написать человеку',
  directChatStart: 'Открыть',
  notOwner: 'Это может только владелец.',
});
