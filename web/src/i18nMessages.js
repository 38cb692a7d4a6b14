// Strings of the message verbs (edit, delete), added to i18n.js's dictionaries.
import { addMessages } from './i18n.js';

addMessages('en', {
  editMessage: 'Edit',
  deleteMessage: 'Delete',
  editLabel: 'Edit your message',
  save: 'Save',
  cancel: 'Cancel',
  edited: 'edited',
  editedAt: 'edited {time}',
  messageDeleted: 'message deleted',
  deleteConfirm: 'Delete for everyone?',
  deleteYes: 'Delete',
  notTheAuthor: 'Only the author can change this message.',
  alreadyDeleted: 'This message was deleted.',
  reply: 'Reply',
  replyingTo: 'Replying to {name}',
  cancelReply: 'Cancel reply',
  goToQuoted: 'Go to the message from {name}',
  quotedGone: 'The message is not loaded; scroll up to find it.',
});

addMessages('ru', {
  editMessage: 'Изменить',
  deleteMessage: 'Удалить',
  editLabel: 'Изменить сообщение',
  save: 'Сохранить',
  cancel: 'Отмена',
  edited: 'изменено',
  editedAt: 'изменено {time}',
  messageDeleted: 'сообщение удалено',
  deleteConfirm: 'Удалить у всех?',
  deleteYes: 'Удалить',
  notTheAuthor: 'Изменить сообщение может только автор.',
  alreadyDeleted: 'Это сообщение удалено.',
  reply: 'Ответить',
  replyingTo: 'Ответ для {name}',
  cancelReply: 'Отменить ответ',
  goToQuoted: 'Перейти к сообщению от {name}',
  quotedGone: 'Сообщение не загружено; прокрутите вверх, чтобы найти его.',
});
