// GraphiQL for MyChat, bundled from npm (no CDN): the gateway serves this page at
// /mychat/graphql to browsers. Plain JS (no JSX): React.createElement.
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './graphiql.css';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { loadSession } from '../session.js';
import { EXAMPLE_QUERY, initialHeaders, scopedStorage } from './setup.js';

const GRAPHQL_PATH = '/mychat/graphql';

function socketUrl(location) {
  const protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${protocol}//${location.host}${GRAPHQL_PATH}`;
}

const fetcher = createGraphiQLFetcher({
  url: GRAPHQL_PATH,
  // Subscriptions go over graphql-ws; the headers editor's values become its
  // connection_init payload, where the gateway looks for `Authorization`.
  subscriptionUrl: socketUrl(window.location),
});

const session = loadSession();
const root = createRoot(document.getElementById('graphiql'));
root.render(
  createElement(
    GraphiQL,
    {
      fetcher,
      defaultQuery: EXAMPLE_QUERY,
      // The signed-in user's token, visible and editable in the Headers tab; headers stay in
      // memory (never persisted), the rest of the editor state only for this tab's session.
      initialHeaders: initialHeaders(session),
      shouldPersistHeaders: false,
      storage: scopedStorage(window.sessionStorage),
      defaultEditorToolsVisibility: 'headers',
    },
    // Instead of GraphiQL's logo (a link to GitHub): the way back to the app.
    createElement(
      GraphiQL.Logo,
      null,
      createElement('a', { className: 'mychat-logo', href: '/' }, 'MyChat'),
    ),
  ),
);
