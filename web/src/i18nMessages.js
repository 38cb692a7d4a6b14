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
});
