// The signed-in app: header (connection, language, GraphiQL, sign out), chat list, chat view.
// `createServices` holds what lives as long as the session (live feed, outbox, route);
// `mountMessenger` draws the screens and can be redrawn (language switch) without losing them.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { CHATS, ME } from '../operations.js';
import { announcerElement } from '../announcer.js';
import { createDrafts } from '../drafts.js';
import { createEditing } from '../editing.js';
import { createFeed } from '../feed.js';
import { startNotifier } from '../notify.js';
import { createOutbox } from '../outbox.js';
import { createSignals } from '../signals.js';
import { createStore } from '../store.js';
import { graphiqlLink, languagePicker } from './common.js';
import { headerMenu, notificationsControl, themePicker } from './settings.js';
import { mountChatList } from './chatList.js';
import { mountChatView } from './chatView.js';
import { mountAccount } from './account.js';
import { mountSearch } from './search.js';
import '../i18nSearch.js';

export const CHAT_LIST_SIZE = 50;

function parseRoute() {
  const match = /^#\/chat\/(.+)$/.exec(window.location.hash);
  return {
    chatId: match ? decodeURIComponent(match[1]) : null,
    account: window.location.hash === ACCOUNT_HREF,
    search: window.location.hash === SEARCH_HREF,
  };
}

const ACCOUNT_HREF = '#/account';
const SEARCH_HREF = '#/search';

export function chatHref(chatId) {
  return `#/chat/${encodeURIComponent(chatId)}`;
}

export function createServices({ apollo, session, expire }) {
  const { client, wsClient } = apollo;
  const route = createStore(parseRoute());
  const onHashChange = () => route.set(parseRoute());
  // Leaves the chat view at once (hashchange comes later), before its data is evicted.
  const goToList = () => {
    window.location.hash = '#/';
    route.set({ chatId: null });
  };
  window.addEventListener('hashchange', onHashChange);

  const outbox = createOutbox({
    client,
    connection: apollo.connection,
    onSent: (message) => feed.noteMessage(message),
    onUnauthenticated: expire,
  });
  const signals = createSignals({ client, myId: session.user.id });
  const feed = createFeed({
    client,
    wsClient,
    onSignal: (event) => signals.handle(event),
    onMessage: (message) => {
      outbox.confirm(message);
      signals.messageArrived(message);
    },
    onRemovedFromChat: (chatId) => {
      if (route.get().chatId === chatId) goToList();
    },
    // Catch up what the live feed does not replay (new chats, member changes).
    onReconnected: () => client.refetchQueries({ include: 'active' }).catch(() => {}),
  });

  async function start() {
    try {
      const me = await client.query({ query: ME, fetchPolicy: 'network-only' });
      if (me.data && me.data.me === null) {
        expire();
        return;
      }
      const { data } = await client.query({
        query: CHATS,
        variables: { first: CHAT_LIST_SIZE },
        fetchPolicy: 'network-only',
      });
      feed.seedCursor((data?.chats?.edges ?? []).map((edge) => edge.node.lastMessage));
    } catch {
      // Offline at start: the feed still starts and the views show their own errors.
    }
    feed.start();
  }
  start();
  const stopNotifier = startNotifier({ feed, route, myId: session.user.id, chatHref });

  return {
    route,
    goToList,
    outbox,
    feed,
    signals,
    drafts: createDrafts(),
    editing: createEditing(),
    stop() {
      window.removeEventListener('hashchange', onHashChange);
      stopNotifier();
      outbox.stop();
      feed.stop();
      signals.stop();
    },
  };
}

export function mountMessenger(
  root,
  { session, apollo, services, signOut, expire, signedOutHere, accountDeleted },
) {
  const { connection } = apollo;
  const ctx = {
    client: apollo.client,
    connection,
    session,
    services,
    expire,
    chatHref,
    signedOutHere,
    accountDeleted,
  };

  const statusLabel = h('span', { class: 'connection-label' });
  const status = h(
    'span',
    { class: 'connection', role: 'status', 'data-testid': 'connection' },
    statusLabel,
  );
  const drawStatus = (state) => {
    status.dataset.state = state;
    status.title = t(state);
    statusLabel.textContent = t(state);
  };
  drawStatus(connection.get());
  const offConnection = connection.subscribe(drawStatus);
  const notifications = notificationsControl();
  const menu = headerMenu([
    languagePicker(),
    themePicker(),
    notifications.element,
    graphiqlLink(),
    h('a', {
      class: 'ghost search-link',
      href: SEARCH_HREF,
      'data-testid': 'search-link',
      text: t('searchMessages'),
      onClick: () => menu.close(),
    }),
    h('a', {
      class: 'ghost account-link',
      href: ACCOUNT_HREF,
      'data-testid': 'account-link',
      text: t('account'),
      onClick: () => menu.close(),
    }),
    h('button', {
      type: 'button',
      class: 'ghost',
      'data-testid': 'sign-out',
      onClick: signOut,
      text: t('signOut'),
    }),
  ]);

  const header = h(
    'header',
    { class: 'app-header' },
    h(
      'div',
      { class: 'brand' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      h('span', { class: 'brand-name', text: t('appName') }),
    ),
    status,
    h(
      'div',
      { class: 'header-tools' },
      h('span', { class: 'me', 'data-testid': 'me', text: session.user.nickname }),
      menu.element,
    ),
  );

  const listPane = h('nav', { class: 'pane list-pane', 'aria-label': t('chatList') });
  const chatPane = h('main', { class: 'pane chat-pane' });
  const layout = h('div', { class: 'layout' }, listPane, chatPane);
  root.replaceChildren(h('div', { class: 'app' }, header, layout, announcerElement()));

  const unmountList = mountChatList(listPane, ctx);
  let unmountChat = () => {};
  let openChatId;
  const drawRoute = ({ chatId, account, search }) => {
    layout.classList.toggle('has-chat', Boolean(chatId) || account || search);
    const shown = account ? ACCOUNT_HREF : search ? SEARCH_HREF : chatId;
    if (shown === openChatId) return;
    openChatId = shown;
    unmountChat();
    unmountChat = account
      ? mountAccount(chatPane, ctx)
      : search
        ? mountSearch(chatPane, ctx)
        : chatId
          ? mountChatView(chatPane, ctx, chatId)
          : (chatPane.replaceChildren(h('p', { class: 'empty-state', text: t('selectChat') })),
            () => {});
  };
  drawRoute(services.route.get());
  const offRoute = services.route.subscribe(drawRoute);

  return () => {
    offConnection();
    notifications.stop();
    menu.close();
    offRoute();
    unmountList();
    unmountChat();
  };
}
