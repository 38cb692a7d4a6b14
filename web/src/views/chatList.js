// The chat list: newest activity first (re-sorted live), last message preview, unread count,
// and a form to create a chat.
import '../i18nMessages.js';
import { h, reconcile, uid } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { CHATS, CREATE_CHAT } from '../operations.js';
import { directChatForm } from './directChat.js';
import { addChatToList } from '../cacheUpdates.js';
import { submitOneField } from './common.js';

const LIST_SIZE = 50;

function byActivity(a, b) {
  const diff = Date.parse(b.lastActivityAt) - Date.parse(a.lastActivityAt);
  return diff || (b.databaseId ?? 0) - (a.databaseId ?? 0);
}

function preview(chat, myId) {
  const message = chat.lastMessage;
  if (!message) return t('noMessagesYet');
  const who = message.sender.id === myId ? t('youPrefix') : message.sender.nickname;
  const text = message.deletedAt ? t('messageDeleted') : message.text.replace(/\s+/g, ' ');
  return `${who}: ${text}`;
}

export function mountChatList(container, ctx) {
  const { client, services, session, chatHref } = ctx;

  const inputId = uid('new-chat');
  const errorId = `${inputId}-error`;
  const nameInput = h('input', {
    id: inputId,
    name: 'name',
    type: 'text',
    required: true,
    maxlength: 100, // chat_service's CHAT_NAME_MAX
    autocomplete: 'off',
    placeholder: t('newChatName'),
    'aria-describedby': errorId,
    'data-testid': 'new-chat-name',
  });
  const nameError = h('p', { id: errorId, class: 'field-error', 'data-testid': 'new-chat-error' });
  const createButton = h('button', { type: 'submit', class: 'primary', text: t('create') });

  async function onCreate(event) {
    event.preventDefault();
    await submitOneField({
      client,
      mutation: CREATE_CHAT,
      variables: () => ({ name: nameInput.value }),
      field: 'createChat',
      payload: 'CreateChatPayload',
      input: nameInput,
      error: nameError,
      button: createButton,
      expire: () => ctx.expire(),
      onDone: (result) => {
        addChatToList(client.cache, result.chat);
        nameInput.value = '';
        window.location.hash = chatHref(result.chat.id);
      },
    });
  }

  const form = h(
    'form',
    { class: 'new-chat', novalidate: true, onSubmit: onCreate, 'data-testid': 'new-chat-form' },
    h('label', { for: inputId, text: t('newChat') }),
    h('div', { class: 'inline-field' }, nameInput, createButton),
    nameError,
  );

  // Search among the loaded chats by name.
  const searchId = uid('chat-search');
  let query = '';
  const search = h('input', {
    id: searchId,
    type: 'search',
    class: 'chat-search',
    autocomplete: 'off',
    placeholder: t('searchChats'),
    'data-testid': 'chat-search',
    onInput: (event) => {
      query = event.target.value.trim().toLocaleLowerCase();
      draw();
    },
  });
  const searchField = h(
    'div',
    { class: 'chat-search-field' },
    h('label', { for: searchId, class: 'sr-only', text: t('searchChats') }),
    search,
  );
  const list = h('ul', { class: 'chat-list', 'data-testid': 'chat-list' });
  const status = h('p', { class: 'list-status', role: 'status', 'data-testid': 'list-status' });
  let nextCursor = null;
  const more = h('button', {
    type: 'button',
    class: 'ghost small more-chats',
    hidden: true,
    'data-testid': 'more-chats',
    text: t('moreChats'),
    onClick: async () => {
      more.disabled = true;
      try {
        await observable.fetchMore({ variables: { first: LIST_SIZE, after: nextCursor } });
      } catch {
        // The button stays for another try.
      }
      more.disabled = false;
    },
  });
  const scrollArea = h('div', { class: 'chat-list-scroll' }, list, more);
  container.replaceChildren(
    h('h2', { class: 'pane-title', text: t('chats') }),
    form,
    directChatForm(ctx),
    searchField,
    status,
    scrollArea,
  );

  function createItem() {
    const parts = {
      link: h('a', { class: 'chat-link', 'data-testid': 'chat-link' }),
      name: h('span', { class: 'chat-name', 'data-testid': 'chat-name' }),
      time: h('time', { class: 'chat-time' }),
      preview: h('span', { class: 'chat-preview', 'data-testid': 'chat-preview' }),
      badge: h('span', { class: 'badge', 'data-testid': 'unread' }),
    };
    parts.link.append(
      h('span', { class: 'chat-line' }, parts.name, parts.time),
      h('span', { class: 'chat-line' }, parts.preview, parts.badge),
    );
    const li = h('li', { class: 'chat-item' }, parts.link);
    li.parts = parts;
    return li;
  }

  let chats = [];
  function draw() {
    const activeId = services.route.get().chatId;
    // The open chat's messages count as read only while the tab is on screen.
    const seenId = document.visibilityState === 'visible' ? activeId : null;
    const sorted = chats
      .filter((chat) => !query || chat.name.toLocaleLowerCase().includes(query))
      .sort(byActivity);
    reconcile(
      list,
      sorted,
      (chat) => chat.id,
      (chat, existing) => {
        // Update in place so keyboard focus on a link survives live re-sorting.
        const li = existing ?? createItem();
        const parts = li.parts;
        parts.link.href = chatHref(chat.id);
        if (chat.id === activeId) parts.link.setAttribute('aria-current', 'page');
        else parts.link.removeAttribute('aria-current');
        parts.name.textContent = chat.name;
        parts.time.dateTime = chat.lastActivityAt;
        parts.time.textContent = formatTime(chat.lastActivityAt);
        parts.preview.textContent = preview(chat, session.user.id);
        const unread = chat.unreadCount > 0 && chat.id !== seenId;
        parts.badge.hidden = !unread;
        parts.badge.textContent = chat.unreadCount > 99 ? '99+' : String(chat.unreadCount);
        parts.badge.setAttribute('aria-label', `${chat.unreadCount} ${t('unread')}`);
        return li;
      },
    );
    if (!chats.length) status.textContent = t('noChats');
    else if (!sorted.length)
      status.textContent = t('noSearchResults', { query: search.value.trim() });
    else status.textContent = '';
    const unread = chats.reduce(
      (sum, chat) => sum + (chat.id === seenId ? 0 : chat.unreadCount),
      0,
    );
    document.title = unread ? `(${unread}) ${t('appName')}` : t('appName');
  }

  const observable = client.watchQuery({
    query: CHATS,
    variables: { first: LIST_SIZE },
    fetchPolicy: 'cache-first',
  });
  let loadedOnce = false;
  status.textContent = t('loading');
  const subscription = observable.subscribe({
    next: (result) => {
      if (result.data?.chats) {
        loadedOnce = true;
        chats = result.data.chats.edges.map((edge) => edge.node);
        const { pageInfo } = result.data.chats;
        nextCursor = pageInfo.endCursor;
        more.hidden = !pageInfo.hasNextPage;
        draw();
      } else if (result.error && !loadedOnce) {
        status.textContent = t('networkError');
      }
    },
    error: () => {
      if (!loadedOnce) status.textContent = t('networkError');
    },
  });
  const offRoute = services.route.subscribe(draw);
  document.addEventListener('visibilitychange', draw);
  // Opened while the server was unreachable: load as soon as the socket is back.
  const offConnection = ctx.connection.subscribe((state) => {
    if (state === 'connected' && !loadedOnce) observable.refetch().catch(() => {});
  });

  return () => {
    subscription.unsubscribe();
    offRoute();
    document.removeEventListener('visibilitychange', draw);
    offConnection();
    document.title = t('appName');
  };
}
