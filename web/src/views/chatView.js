// One chat: history (older pages load when scrolling up), live messages, optimistic sending,
// and the members panel. Marks messages read while the chat is on screen.
import { h, reconcile, uid } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import { CHAT, CHAT_LIST_FIELDS, CHAT_MESSAGES, MARK_READ } from '../operations.js';
import { appendMessage } from '../cacheUpdates.js';
import { buildTimeline, dayLabel, firstUnread } from '../timeline.js';
import { errorText } from './common.js';
import { WIDE_SCREEN, createMembersPanel } from './membersPanel.js';
import { createChatSignals } from './chatSignals.js';
import { createMessageActions } from './messageActions.js';
import { announce } from '../announcer.js';
import '../i18nOwner.js';

// The text of each system note the live feed adds (feed.js addNote).
const NOTE_TEXTS = {
  joined: 'memberJoined',
  left: 'memberLeft',
  renamed: 'chatRenamedNote',
  removed: 'memberRemovedNote',
  owner: 'ownerChangedNote',
};

const PAGE_SIZE = 50;
const LOAD_OLDER_WITHIN_PX = 200;
const STICK_TO_BOTTOM_PX = 80;
const SHOW_JUMP_BUTTON_PX = 300;
const MARK_READ_EVERY_MS = 2000;
// Everyone with a chat open gets a message at the same moment. A mark that a message causes
// waits a random part of this, so the marks of a thousand viewers reach the server spread out,
// not as one wave on top of the next message. Opening a chat marks it at once.
const MARK_READ_SPREAD_MS = 1000;

/** The chat's unread count as the chat list last knew it (before this view marks it read). */
function unreadWhenOpened(client, chatId) {
  try {
    const chat = client.cache.readFragment({
      id: client.cache.identify({ __typename: 'Chat', id: chatId }),
      fragment: CHAT_LIST_FIELDS,
      fragmentName: 'ChatListFields',
    });
    return chat?.unreadCount ?? 0;
  } catch {
    return 0;
  }
}

export function mountChatView(container, ctx, chatId) {
  const { client, services, session } = ctx;
  const myId = session.user.id;
  const cleanups = [];
  let chat = null; // details: name, members, myRole
  let messages = []; // server messages, oldest first
  let hasPreviousPage = false;
  let oldestCursor = null; // `before:` for the next older page
  let loadingOlder = false;
  let initialScrollDone = false;
  let atBottom = true; // the reader is at the end: keep them there as things change
  let lastMarkedId = null;
  let markTimer = null;
  let lastMarkAt = 0;
  cleanups.push(() => clearTimeout(markTimer));
  const readded = new Set(); // live messages put back into a page fetched while they arrived
  const unreadAtOpen = unreadWhenOpened(client, chatId);
  // Where "New messages" goes: undefined until the server's page is in (the cache may hold
  // only part of what is unread), then a message id or null.
  let firstUnreadId = unreadAtOpen ? undefined : null;

  const actions = createMessageActions({
    client,
    myId,
    redraw: () => drawMessages(),
    messages: () => messages,
    onReply: (quote) => setReplyingTo(quote),
    jumpTo: (messageId) => jumpTo(messageId),
  });
  cleanups.push(services.editing.register((id) => id === chatId && actions.editLast()));

  const members = createMembersPanel({
    client,
    chatId,
    myId,
    expire: () => ctx.expire(),
    goToList: services.goToList,
    signals: services.signals,
  });

  // ----- header -----
  const title = h('h2', { class: 'chat-title', 'data-testid': 'chat-title', text: t('loading') });
  const header = h(
    'header',
    { class: 'chat-header' },
    h(
      'a',
      { class: 'back-link', href: '#/', 'aria-label': t('back') },
      h('span', { 'aria-hidden': 'true', text: '‹ ' }),
      t('back'),
    ),
    title,
    members.toggle,
  );

  // ----- messages -----
  const historyTop = h('div', { class: 'history-top' });
  const messageList = h('ol', { class: 'message-list', 'data-testid': 'message-list' });
  // A focusable region (keyboard scrolling); new messages are announced by notify.js.
  const scroller = h(
    'div',
    {
      class: 'messages',
      tabindex: '0',
      role: 'region',
      'aria-label': t('messageList'),
      'data-testid': 'messages',
    },
    historyTop,
    messageList,
  );
  const jumpButton = h('button', {
    type: 'button',
    class: 'jump-latest',
    hidden: true,
    'data-testid': 'jump-latest',
    onClick: () => {
      scroller.scrollTop = scroller.scrollHeight;
      textarea.focus({ preventScroll: true });
    },
    text: t('jumpToLatest'),
  });

  // ----- composer -----
  const composerId = uid('composer');
  const textarea = h('textarea', {
    id: composerId,
    name: 'text',
    rows: '1',
    maxlength: 4000, // chat_service's MESSAGE_TEXT_MAX
    placeholder: t('messagePlaceholder'),
    'aria-describedby': `${composerId}-hint`,
    'data-testid': 'composer',
  });
  // The message being answered, shown above the composer until sent or cancelled.
  let replyingTo = null;
  const replyBanner = h('div', {
    class: 'reply-banner',
    hidden: true,
    'data-testid': 'reply-banner',
  });
  function setReplyingTo(quote) {
    replyingTo = quote;
    replyBanner.hidden = !quote;
    replyBanner.replaceChildren();
    if (quote) {
      replyBanner.append(
        h('span', {
          class: 'quote-sender',
          text: t('replyingTo', { name: quote.sender.nickname }),
        }),
        h('span', { class: 'quote-text', text: quote.text }),
        h('button', {
          type: 'button',
          class: 'link-button',
          'data-testid': 'reply-cancel',
          onClick: () => {
            setReplyingTo(null);
            textarea.focus();
          },
          text: t('cancelReply'),
        }),
      );
      textarea.focus();
    }
  }

  /** Scroll a loaded message into view and flash it; say so when it is not loaded. */
  function jumpTo(messageId) {
    const target = messageList.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
    if (!target) {
      announce(t('quotedGone'));
      return;
    }
    target.scrollIntoView({ block: 'center' });
    target.classList.add('highlight');
    setTimeout(() => target.classList.remove('highlight'), 1500);
  }

  const composer = h(
    'form',
    { class: 'composer', onSubmit: onSend, 'data-testid': 'composer-form' },
    h('label', { for: composerId, class: 'sr-only', text: t('messageLabel') }),
    h(
      'div',
      { class: 'composer-field' },
      textarea,
      h('p', { id: `${composerId}-hint`, class: 'composer-hint', text: t('composerHint') }),
    ),
    h('button', { type: 'submit', class: 'primary send-button', text: t('send') }),
  );
  textarea.value = services.drafts.get(chatId);
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    } else if (event.key === 'Escape' && replyingTo) {
      event.preventDefault();
      setReplyingTo(null);
    } else if (event.key === 'ArrowUp' && !textarea.value && !event.isComposing) {
      // Up in an empty composer edits the last own message (once editing exists).
      if (services.editing.editLast(chatId)) event.preventDefault();
    }
  });
  textarea.addEventListener('input', () => {
    services.drafts.set(chatId, textarea.value);
    autoGrow();
  });
  function autoGrow() {
    textarea.rows = Math.min(6, Math.max(1, textarea.value.split('\n').length));
  }

  const live = createChatSignals({ signals: services.signals, chatId, myId, textarea });
  cleanups.push(() => live.stop());
  const body = h(
    'div',
    { class: 'chat-body' },
    h('div', { class: 'chat-main' }, scroller, jumpButton, live.element, replyBanner, composer),
    members.element,
  );
  const view = h('section', { class: 'chat-view', 'data-testid': 'chat-view' }, header, body);
  container.replaceChildren(view);
  autoGrow();
  // Ready to type on a wide screen; on a phone the keyboard would cover the history.
  if (window.matchMedia(WIDE_SCREEN).matches) textarea.focus({ preventScroll: true });

  // ----- drawing -----
  function drawDetails() {
    if (!chat) return;
    title.textContent = chat.name;
    members.update(chat.members ?? []);
    live.membersChanged(chat.members);
  }

  function drawHistoryTop() {
    if (loadingOlder) {
      historyTop.replaceChildren(h('p', { class: 'history-note', text: t('loadingOlder') }));
    } else if (hasPreviousPage) {
      historyTop.replaceChildren(
        h('button', {
          type: 'button',
          class: 'ghost small',
          'data-testid': 'load-older',
          onClick: loadOlder,
          text: t('loadOlder'),
        }),
      );
    } else if (messages.length) {
      historyTop.replaceChildren(h('p', { class: 'history-note', text: t('beginning') }));
    } else {
      historyTop.replaceChildren(
        h('p', {
          class: 'history-note empty-chat',
          'data-testid': 'empty-chat',
          text: t('emptyChat'),
        }),
      );
    }
  }

  function timelineItems() {
    const items = buildTimeline({
      messages,
      notes: services.feed.notes.get().get(chatId) ?? [],
      pending: services.outbox.pending.get().get(chatId) ?? [],
      firstUnreadId,
    });
    // A message is redrawn when it changes (edited, deleted) or its editor opens.
    for (const item of items) {
      if (item.kind === 'message') item.key += actions.keySuffix(item.message);
    }
    return items;
  }

  function drawMessages({ keepPosition = false } = {}) {
    const nearBottom =
      scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < STICK_TO_BOTTOM_PX;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    drawHistoryTop();
    reconcile(messageList, timelineItems(), (item) => item.key, renderItem);
    live.messagesChanged(messages);
    if (!initialScrollDone && messages.length && firstUnreadId !== undefined) {
      initialScrollDone = true;
      scrollToStart();
    } else if (keepPosition) {
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
    } else if (nearBottom) {
      scroller.scrollTop = scroller.scrollHeight;
    }
    if (initialScrollDone && hasPreviousPage && scroller.scrollHeight <= scroller.clientHeight)
      loadOlder();
    drawJumpButton();
    markRead();
  }

  /** On opening: the "New messages" divider near the top if there is one, else the end. */
  function scrollToStart() {
    const divider = messageList.querySelector('.unread-divider');
    if (divider) {
      scroller.scrollTop = Math.max(0, divider.offsetTop - scroller.offsetTop - 16);
    } else {
      scroller.scrollTop = scroller.scrollHeight;
    }
  }

  function distanceFromBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  }

  function drawJumpButton() {
    jumpButton.hidden = distanceFromBottom() < SHOW_JUMP_BUTTON_PX;
  }

  function renderItem(item, existing) {
    if (item.kind === 'day') {
      return (
        existing ??
        h(
          'li',
          { class: 'day-separator', 'data-testid': 'day-separator' },
          h('span', { text: dayLabel(item.date) }),
        )
      );
    }
    if (item.kind === 'divider') {
      return (
        existing ??
        h(
          'li',
          { class: 'unread-divider', 'data-testid': 'unread-divider' },
          h('span', { text: t('newMessages') }),
        )
      );
    }
    if (item.kind === 'note') {
      return (
        existing ??
        h('li', {
          class: 'system-note',
          'data-testid': 'system-note',
          text: t(NOTE_TEXTS[item.note.kind] ?? 'memberJoined', {
            name: item.note.name,
            by: item.note.by,
          }),
        })
      );
    }
    if (item.kind === 'system') {
      const { message } = item;
      // The same texts as the live notes (NOTE_TEXTS): who, and the line's text.
      const params = {
        JOINED: ['memberJoined', { name: message.sender.nickname }],
        LEFT: ['memberLeft', { name: message.sender.nickname }],
        REMOVED: ['memberRemovedNote', { name: message.sender.nickname, by: message.text }],
        RENAMED: ['chatRenamedNote', { by: message.sender.nickname, name: message.text }],
      }[message.kind];
      return (
        existing ??
        h('li', {
          class: 'system-note',
          'data-testid': 'system-note',
          'data-message-id': message.id,
          text: params ? t(...params) : message.text,
        })
      );
    }
    if (item.kind === 'message') {
      if (existing) return existing; // a change of the message changes its key
      const { message, grouped } = item;
      const mine = message.sender.id === myId;
      return h(
        'li',
        {
          class: `message ${mine ? 'mine' : 'theirs'}${grouped ? ' grouped' : ''}`,
          'data-testid': 'message',
          'data-message-id': message.id,
        },
        h(
          'div',
          { class: 'bubble' },
          mine || grouped
            ? null
            : h('span', {
                class: 'sender',
                'data-testid': 'message-sender',
                text: message.sender.nickname,
              }),
          actions.quote(message),
          actions.text(message),
          h(
            'span',
            { class: 'meta' },
            h('time', { datetime: message.createdAt, text: formatTime(message.createdAt) }),
            actions.editedMark(message),
          ),
          actions.footer(message),
        ),
      );
    }
    const { pending } = item;
    const failed = pending.status === 'failed';
    const waiting = pending.status === 'waiting';
    const meta = h('span', { class: 'meta' });
    if (failed) {
      meta.append(
        h('span', {
          class: 'failed-label',
          text: pending.error ? `${t('sendFailed')}: ${errorText(pending.error)}` : t('sendFailed'),
        }),
        ' ',
        h('button', {
          type: 'button',
          class: 'link-button retry',
          'data-testid': 'retry',
          onClick: () => services.outbox.retry(chatId, pending.clientId),
          text: t('retry'),
        }),
      );
    } else {
      meta.append(h('span', { text: t(waiting ? 'waitingToSend' : 'sending') }));
    }
    const testId = failed ? 'message-failed' : waiting ? 'message-waiting' : 'message-pending';
    return h(
      'li',
      {
        class: `message mine pending${failed ? ' failed' : ''}`,
        'data-testid': testId,
      },
      h(
        'div',
        { class: 'bubble' },
        h('p', { class: 'text', 'data-testid': 'message-text', text: pending.text }),
        meta,
      ),
    );
  }

  // ----- data -----
  const detailsQuery = client.watchQuery({
    query: CHAT,
    variables: { id: chatId },
    fetchPolicy: 'cache-and-network',
  });
  const detailsSub = detailsQuery.subscribe({
    next: (result) => {
      if (result.data && result.data.chat === null && !result.loading) {
        showNotFound();
        return;
      }
      if (result.data?.chat) {
        chat = result.data.chat;
        drawDetails();
      }
    },
    error: () => {},
  });
  cleanups.push(() => detailsSub.unsubscribe());

  const messagesQuery = client.watchQuery({
    query: CHAT_MESSAGES,
    variables: { id: chatId, last: PAGE_SIZE },
    fetchPolicy: 'cache-and-network',
  });
  const messagesSub = messagesQuery.subscribe({
    next: (result) => {
      const connection = result.data?.chat?.messages;
      if (!connection) return;
      // Live messages that arrived while this page was being fetched: add them back.
      const loaded = new Set(connection.edges.map((edge) => edge.node.id));
      const oldestLoaded = connection.edges[0]?.node.databaseId ?? 0;
      const missing = services.feed
        .recentMessages(chatId)
        .filter((message) => !loaded.has(message.id) && message.databaseId > oldestLoaded)
        .filter((message) => !readded.has(message.id));
      if (missing.length) {
        for (const message of missing) {
          readded.add(message.id);
          appendMessage(client.cache, message);
        }
        return; // the cache change emits again, with them
      }
      const previousOldest = messages[0]?.databaseId;
      messages = connection.edges.map((edge) => edge.node);
      // Older messages came in above: keep what the reader sees where it is.
      const olderAdded = previousOldest !== undefined && messages[0]?.databaseId < previousOldest;
      hasPreviousPage = connection.pageInfo.hasPreviousPage;
      oldestCursor = connection.edges[0]?.cursor ?? null;
      for (const message of messages.slice(-1)) services.feed.noteMessage(message);
      if (firstUnreadId === undefined && !result.loading) {
        firstUnreadId = firstUnread(messages, unreadAtOpen, myId);
      }
      drawMessages({ keepPosition: olderAdded });
    },
    error: () => {},
  });
  cleanups.push(() => messagesSub.unsubscribe());
  cleanups.push(services.outbox.pending.subscribe(() => drawMessages()));
  cleanups.push(services.feed.notes.subscribe(() => drawMessages()));

  async function loadOlder() {
    if (loadingOlder || !hasPreviousPage || !oldestCursor) return;
    loadingOlder = true;
    drawHistoryTop();
    try {
      await messagesQuery.fetchMore({
        variables: { id: chatId, last: PAGE_SIZE, before: oldestCursor },
      });
    } catch {
      // The button stays: the user can try again.
    } finally {
      loadingOlder = false;
      drawHistoryTop();
    }
  }

  const onScroll = () => {
    if (scroller.scrollTop < LOAD_OLDER_WITHIN_PX) loadOlder();
    atBottom = distanceFromBottom() < STICK_TO_BOTTOM_PX;
    drawJumpButton();
  };
  // The view resizes after it opens (the header gets its members count, a phone's keyboard or
  // toolbar appears): a reader at the end stays at the end, so the last message is never cut.
  const resizeObserver = new ResizeObserver(() => {
    if (initialScrollDone && atBottom) scroller.scrollTop = scroller.scrollHeight;
    drawJumpButton();
  });
  resizeObserver.observe(scroller);
  resizeObserver.observe(messageList);
  cleanups.push(() => resizeObserver.disconnect());
  scroller.addEventListener('scroll', onScroll, { passive: true });

  // At most one markRead every MARK_READ_EVERY_MS while messages stream in (the server also
  // writes a marker at most that often): at once when the chat opens, then the newest when due
  // plus a random part of MARK_READ_SPREAD_MS. The random part comes on top of the interval:
  // viewers whose marks fell together (a busy chat's message) would otherwise stay in step,
  // all marking in the same moment every MARK_READ_EVERY_MS.
  function markRead() {
    if (markTimer !== null || !unmarked()) return;
    const wait =
      lastMarkAt === 0
        ? 0
        : Math.max(lastMarkAt + MARK_READ_EVERY_MS - Date.now(), 0) +
          Math.random() * MARK_READ_SPREAD_MS;
    if (wait <= 0) {
      sendMark();
      return;
    }
    markTimer = setTimeout(() => {
      markTimer = null;
      sendMark();
    }, wait);
  }
  /** The newest message, if it is on screen and not marked yet. */
  function unmarked() {
    const newest = messages[messages.length - 1];
    if (!newest || newest.id === lastMarkedId || document.visibilityState !== 'visible')
      return null;
    return newest;
  }
  function sendMark() {
    const newest = unmarked();
    if (!newest) return;
    lastMarkAt = Date.now();
    lastMarkedId = newest.id;
    client
      .mutate({ mutation: MARK_READ, variables: { chatId, messageId: newest.id } })
      .then(({ data }) => {
        if (data?.markRead?.__typename === 'Unauthenticated') ctx.expire();
      })
      .catch(() => {
        lastMarkedId = null; // try again with the next change
      });
  }
  const onVisible = () => markRead();
  document.addEventListener('visibilitychange', onVisible);
  cleanups.push(() => document.removeEventListener('visibilitychange', onVisible));

  // ----- actions -----
  function onSend(event) {
    event.preventDefault();
    const text = textarea.value;
    if (!text.trim()) return;
    textarea.value = '';
    services.drafts.set(chatId, '');
    autoGrow();
    services.outbox.send(chatId, text, replyingTo);
    setReplyingTo(null);
    live.sent();
    scroller.scrollTop = scroller.scrollHeight;
  }

  function showNotFound() {
    view.replaceChildren(
      h(
        'div',
        { class: 'empty-state' },
        h('p', { text: t('chatNotFound') }),
        h('a', { href: '#/', text: t('back') }),
      ),
    );
  }

  return () => {
    members.destroy();
    scroller.removeEventListener('scroll', onScroll);
    for (const cleanup of cleanups) cleanup();
  };
}
