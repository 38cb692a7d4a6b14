// Strings of the message search screen (views/search.js), English and Russian.
import { addMessages } from './i18n.js';

addMessages('en', {
  searchMessages: 'Search messages',
  searchMessagesLabel: 'Words to find in your chats',
  searchButton: 'Search',
  searchHint: 'Every word must appear (or the start of one); newest first.',
  searchNothing: 'No messages match “{query}”.',
  searchMore: 'Show older results',
  searchFailed: 'Search failed: {message}',
  searchIn: 'in {chat}',
});
addMessages('ru', {
  searchMessages: 'Поиск сообщений',
  searchMessagesLabel: 'Слова для поиска в ваших чатах',
  searchButton: 'Найти',
  searchHint: 'Нужны все слова (или их начало); сначала новые.',
  searchNothing: 'Нет сообщений по запросу «{query}».',
  searchMore: 'Показать более ранние',
  searchFailed: 'Поиск не удался: {message}',
  searchIn: 'в чате {chat}',
});
