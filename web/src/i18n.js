// English and Russian (the original project's language); the choice is kept in localStorage.

const STORAGE_KEY = 'mychat.lang';
export const LANGUAGES = { en: 'English', ru: 'Русский' };

const MESSAGES = {
  en: {
    appName: 'MyChat',
    signIn: 'Sign in',
    register: 'Create account',
    signInTitle: 'Sign in to MyChat',
    registerTitle: 'Create a MyChat account',
    login: 'Login',
    password: 'Password',
    nickname: 'Nickname',
    nicknameHint: 'Others add you to chats by this name.',
    noAccount: 'No account yet?',
    haveAccount: 'Already have an account?',
    switchToRegister: 'Create one',
    switchToSignIn: 'Sign in',
    working: 'Please wait…',
    signOut: 'Sign out',
    sessionExpired: 'Your session has expired. Please sign in again.',
    signedOut: 'You have signed out.',
    language: 'Language',
    graphiql: 'GraphiQL',
    graphiqlTitle: 'GraphQL API explorer for developers',
    connected: 'Connected',
    connecting: 'Connecting…',
    reconnecting: 'Reconnecting…',
    chats: 'Chats',
    newChat: 'New chat',
    newChatName: 'Chat name',
    create: 'Create',
    noChats: 'No chats yet. Create one, or ask someone to add you by your nickname.',
    noMessagesYet: 'No messages yet',
    moreChats: 'Show more chats',
    unread: 'unread',
    selectChat: 'Choose a chat on the left, or create a new one.',
    back: 'Chats',
    members: 'Members',
    membersCount: 'Members: {n}',
    owner: 'owner',
    you: 'you',
    addMember: 'Add member',
    addMemberNickname: 'Nickname to add',
    add: 'Add',
    memberAdded: '{name} was added.',
    leaveChat: 'Leave chat',
    leaveConfirm: 'Leave this chat?',
    leaveYes: 'Yes, leave',
    cancel: 'Cancel',
    loadOlder: 'Load older messages',
    loadingOlder: 'Loading older messages…',
    beginning: 'This is the beginning of the chat.',
    messageLabel: 'Message',
    messagePlaceholder: 'Write a message…',
    composerHint: 'Enter sends · Shift+Enter adds a line',
    youPrefix: 'You',
    send: 'Send',
    sending: 'sending…',
    sendFailed: 'not sent',
    retry: 'Retry',
    memberJoined: '{name} joined the chat',
    memberLeft: '{name} left the chat',
    chatNotFound: 'This chat does not exist or you are not a member.',
    loading: 'Loading…',
    networkError: 'Cannot reach the server. Check your connection and try again.',
    unexpectedError: 'Something went wrong. Please try again.',
    rateLimited: 'Too many attempts. Try again in {s} s.',
    required: 'Please fill this in.',
    loginTaken: 'This login is already taken.',
    nicknameTaken: 'This nickname is already taken.',
    badCredentials: 'Wrong login or password.',
    noSuchNickname: 'Nobody has this nickname.',
    alreadyMember: 'Already a member of this chat.',
    notMember: 'You are not a member of this chat.',
    messageList: 'Messages',
    chatList: 'Chat list',
    emptyChat: 'No messages yet. Write the first one below.',
    searchChats: 'Search chats',
    noSearchResults: 'No chats match “{query}”.',
    today: 'Today',
    yesterday: 'Yesterday',
    newMessages: 'New messages',
    jumpToLatest: 'Jump to latest ↓',
    waitingToSend: 'waiting for connection…',
    menu: 'Menu',
    theme: 'Theme',
    themeSystem: 'System theme',
    themeLight: 'Light',
    themeDark: 'Dark',
    enableNotifications: 'Enable notifications',
    notificationsOn: 'Notifications on',
    notificationsBlocked: 'Notifications blocked in the browser',
    announceMessage: '{name}: {text}',
    announceOtherChat: 'New message from {name} in {chat}',
  },
  ru: {
    appName: 'MyChat',
    signIn: 'Войти',
    register: 'Зарегистрироваться',
    signInTitle: 'Вход в MyChat',
    registerTitle: 'Регистрация в MyChat',
    login: 'Логин',
    password: 'Пароль',
    nickname: 'Никнейм',
    nicknameHint: 'По этому имени вас добавляют в чаты.',
    noAccount: 'Нет аккаунта?',
    haveAccount: 'Уже есть аккаунт?',
    switchToRegister: 'Зарегистрироваться',
    switchToSignIn: 'Войти',
    working: 'Подождите…',
    signOut: 'Выйти',
    sessionExpired: 'Сессия истекла. Войдите снова.',
    signedOut: 'Вы вышли из аккаунта.',
    language: 'Язык',
    graphiql: 'GraphiQL',
    graphiqlTitle: 'Обозреватель GraphQL API для разработчиков',
    connected: 'Подключено',
    connecting: 'Подключение…',
    reconnecting: 'Переподключение…',
    chats: 'Чаты',
    newChat: 'Новый чат',
    newChatName: 'Название чата',
    create: 'Создать',
    noChats: 'Чатов пока нет. Создайте чат или попросите добавить вас по никнейму.',
    noMessagesYet: 'Сообщений пока нет',
    moreChats: 'Показать ещё чаты',
    unread: 'непрочитанных',
    selectChat: 'Выберите чат слева или создайте новый.',
    back: 'Чаты',
    members: 'Участники',
    membersCount: 'Участников: {n}',
    owner: 'создатель',
    you: 'вы',
    addMember: 'Добавить участника',
    addMemberNickname: 'Никнейм участника',
    add: 'Добавить',
    memberAdded: '{name} добавлен(а).',
    leaveChat: 'Покинуть чат',
    leaveConfirm: 'Покинуть этот чат?',
    leaveYes: 'Да, покинуть',
    cancel: 'Отмена',
    loadOlder: 'Загрузить более ранние',
    loadingOlder: 'Загружаем более ранние сообщения…',
    beginning: 'Это начало чата.',
    messageLabel: 'Сообщение',
    messagePlaceholder: 'Напишите сообщение…',
    composerHint: 'Enter — отправить · Shift+Enter — новая строка',
    youPrefix: 'Вы',
    send: 'Отправить',
    sending: 'отправляется…',
    sendFailed: 'не отправлено',
    retry: 'Повторить',
    memberJoined: '{name} присоединяется к чату',
    memberLeft: '{name} покидает чат',
    chatNotFound: 'Такого чата нет, или вы в нём не состоите.',
    loading: 'Загрузка…',
    networkError: 'Сервер недоступен. Проверьте соединение и попробуйте снова.',
    unexpectedError: 'Что-то пошло не так. Попробуйте ещё раз.',
    rateLimited: 'Слишком много попыток. Повторите через {s} с.',
    required: 'Заполните это поле.',
    loginTaken: 'Этот логин уже занят.',
    nicknameTaken: 'Этот никнейм уже занят.',
    badCredentials: 'Неверный логин или пароль.',
    noSuchNickname: 'Пользователя с таким никнеймом нет.',
    alreadyMember: 'Уже состоит в этом чате.',
    notMember: 'Вы не состоите в этом чате.',
    messageList: 'Сообщения',
    chatList: 'Список чатов',
    emptyChat: 'Сообщений пока нет. Напишите первое ниже.',
    searchChats: 'Поиск чатов',
    noSearchResults: 'Нет чатов по запросу «{query}».',
    today: 'Сегодня',
    yesterday: 'Вчера',
    newMessages: 'Новые сообщения',
    jumpToLatest: 'К последним ↓',
    waitingToSend: 'ждёт соединения…',
    menu: 'Меню',
    theme: 'Тема',
    themeSystem: 'Как в системе',
    themeLight: 'Светлая',
    themeDark: 'Тёмная',
    enableNotifications: 'Включить уведомления',
    notificationsOn: 'Уведомления включены',
    notificationsBlocked: 'Уведомления запрещены в браузере',
    announceMessage: '{name}: {text}',
    announceOtherChat: 'Новое сообщение от {name} в чате «{chat}»',
  },
};

function initialLanguage() {
  const saved = safeGet(STORAGE_KEY);
  if (saved && saved in MESSAGES) return saved;
  const preferred = (navigator.language || 'en').slice(0, 2).toLowerCase();
  return preferred in MESSAGES ? preferred : 'en';
}

function safeGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

let current = initialLanguage();
const listeners = new Set();
document.documentElement.lang = current;

export function getLanguage() {
  return current;
}

export function setLanguage(lang) {
  if (!(lang in MESSAGES) || lang === current) return;
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
  document.documentElement.lang = lang;
  for (const listener of listeners) listener(lang);
}

export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The text for `key` in the current language, with `{name}` placeholders filled from params. */
export function t(key, params = {}) {
  const template = MESSAGES[current][key] ?? MESSAGES.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ''));
}

/** Short local time for a message; the date as well when it is not today. */
export function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  const options = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(current, options).format(date);
}

/** More strings for a language, from a module of one concern (e.g. i18nAccounts.js). */
export function addMessages(lang, messages) {
  Object.assign(MESSAGES[lang], messages);
}
