// Apollo Client with a normalised cache: HTTP for queries and mutations, graphql-ws for
// subscriptions and the mutations an open chat repeats (split link), the token on both, and
// the socket's state as a store.
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
  split,
} from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';

import { createStore } from './store.js';

export const GRAPHQL_PATH = '/mychat/graphql';
const KEEPALIVE_MS = 10_000; // the server sends no pings: keep the socket (and proxies) alive
const MAX_BACKOFF_MS = 10_000;
const CLOSE_FORBIDDEN = 4403; // bad or expired token
const CLOSE_UNAUTHORIZED = 4401;
// Mutations an open chat sends again and again go over its open socket while it is connected:
// no HTTP request, headers and token check each (a thousand viewers of a busy chat mark it
// read 500 times a second). Over HTTP while the socket is down.
const SOCKET_MUTATIONS = new Set(['MarkRead', 'SetTyping']);

// Union and interface members, so fragments like `... on Error` match in the cache.
const POSSIBLE_TYPES = {
  Node: ['User', 'Viewer', 'Message', 'Chat'],
  Error: [
    'ValidationError',
    'NotFound',
    'NotAMember',
    'AlreadyAMember',
    'Conflict',
    'Unauthenticated',
    'RateLimited',
  ],
  AuthResult: ['AuthPayload', 'ValidationError', 'Conflict', 'Unauthenticated', 'RateLimited'],
  CreateChatResult: ['CreateChatPayload', 'ValidationError', 'NotFound', 'Unauthenticated'],
  AddMemberResult: [
    'AddMemberPayload',
    'ValidationError',
    'NotFound',
    'NotAMember',
    'AlreadyAMember',
    'Unauthenticated',
  ],
  LeaveChatResult: ['LeaveChatPayload', 'NotFound', 'NotAMember', 'Unauthenticated'],
  SendMessageResult: [
    'SendMessagePayload',
    'ValidationError',
    'NotFound',
    'NotAMember',
    'RateLimited',
    'Unauthenticated',
  ],
  MarkReadResult: [
    'MarkReadPayload',
    'ValidationError',
    'NotFound',
    'NotAMember',
    'Unauthenticated',
  ],
  ChatEvent: ['MessageAdded', 'MemberAdded', 'MemberLeft', 'AddedToChat', 'RemovedFromChat'],
};

/** Orders message edges by database id (ids, not timestamps, order messages). */
export function sortEdges(edges, readField) {
  return edges.sort(
    (a, b) => (readField('databaseId', a.node) ?? 0) - (readField('databaseId', b.node) ?? 0),
  );
}

// Pages of a chat's history merge into one list: deduplicated by message id, ordered by id.
function mergeMessages(existing, incoming, { args, readField }) {
  const byId = new Map();
  for (const edge of [...(existing?.edges ?? []), ...incoming.edges]) {
    byId.set(readField('id', edge.node), edge);
  }
  const edges = sortEdges([...byId.values()], readField);
  // An older page (`before`) says whether there is more before it; a refresh of the newest page
  // leaves what we already know about older ones.
  const olderPage = Boolean(args?.before);
  const hasPreviousPage =
    !existing || olderPage ? incoming.pageInfo.hasPreviousPage : existing.pageInfo.hasPreviousPage;
  return {
    ...incoming,
    edges,
    pageInfo: { ...incoming.pageInfo, hasPreviousPage, startCursor: edges[0]?.cursor ?? null },
  };
}

// Pages of the chat list: a next page (`after`) is appended; a fresh first page keeps the
// pages loaded after it. Chats are deduplicated by id (the list sorts itself by activity).
function mergeChats(existing, incoming, { args, readField }) {
  if (!existing) return incoming;
  const idOf = (edge) => readField('id', edge.node);
  if (args?.after) {
    const known = new Set(existing.edges.map(idOf));
    const edges = [...existing.edges, ...incoming.edges.filter((edge) => !known.has(idOf(edge)))];
    return { ...incoming, edges };
  }
  const fresh = new Set(incoming.edges.map(idOf));
  const rest = existing.edges.filter((edge) => !fresh.has(idOf(edge)));
  const pageInfo = rest.length ? existing.pageInfo : incoming.pageInfo;
  return { ...incoming, edges: [...incoming.edges, ...rest], pageInfo };
}

function newerMessage(existing, incoming, { readField }) {
  if (!existing || !incoming) return incoming ?? existing ?? null;
  const before = readField('databaseId', existing) ?? -1;
  const after = readField('databaseId', incoming) ?? -1;
  return after >= before ? incoming : existing;
}

function laterTime(existing, incoming) {
  if (!existing || !incoming) return incoming ?? existing;
  return Date.parse(incoming) >= Date.parse(existing) ? incoming : existing;
}

function createCache() {
  return new InMemoryCache({
    possibleTypes: POSSIBLE_TYPES,
    typePolicies: {
      Query: {
        fields: {
          chats: { keyArgs: false, merge: mergeChats },
          // `chat(id)` reads the Chat already normalised from the chat list.
          chat: {
            read(existing, { args, toReference }) {
              // A stored null (not a member / unknown id) stays null.
              if (existing !== undefined) return existing;
              return toReference({ __typename: 'Chat', id: args.id });
            },
          },
        },
      },
      Chat: {
        fields: {
          messages: { keyArgs: false, merge: mergeMessages },
          // A query answered before a live message must not take the chat back in time.
          lastMessage: { merge: newerMessage },
          lastActivityAt: { merge: laterTime },
          members: { merge: (_existing, incoming) => incoming },
        },
      },
      Member: { keyFields: false },
    },
  });
}

/**
 * The wait before reconnect attempt `retries`: doubling with jitter up to MAX_BACKOFF_MS, cut
 * short when the browser comes back online (no reason to sit out a long backoff then).
 */
function waitBeforeRetry(retries) {
  const delay = Math.min(500 * 2 ** retries, MAX_BACKOFF_MS) + Math.random() * 300;
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, delay);
    window.addEventListener('online', done);
  });
}

function websocketUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${GRAPHQL_PATH}`;
}

/**
 * The client for one session. `token` null gives an HTTP-only client (sign in / register).
 * `onUnauthenticated` runs when the server refuses the token (HTTP 401 or socket close 4403).
 * Returns `{client, wsClient, connection, dispose}`; `connection` is a store of
 * 'connecting' | 'connected' | 'reconnecting'.
 */
export function createApollo({ token, onUnauthenticated }) {
  const connection = createStore('connecting');
  const authHeaders = token ? { authorization: `Bearer ${token}` } : {};
  const httpLink = new HttpLink({ uri: GRAPHQL_PATH, headers: authHeaders });
  // The server refused the token: HTTP 401, or an error with code UNAUTHENTICATED (for
  // example a query or subscription whose token expired).
  const errorLink = new ErrorLink(({ error }) => {
    if (!token) return;
    const refused =
      (ServerError.is(error) && error.statusCode === 401) ||
      (CombinedGraphQLErrors.is(error) &&
        error.errors.some((e) => e.extensions?.code === 'UNAUTHENTICATED'));
    if (refused) onUnauthenticated?.();
  });

  let wsClient = null;
  let link = ApolloLink.from([errorLink, httpLink]);
  if (token) {
    let everConnected = false;
    let disposed = false;
    wsClient = createClient({
      url: websocketUrl(),
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      keepAlive: KEEPALIVE_MS,
      connectionAckWaitTimeout: 10_000,
      retryAttempts: Infinity,
      retryWait: waitBeforeRetry,
      shouldRetry: (event) => {
        const code = event?.code;
        return code !== CLOSE_FORBIDDEN && code !== CLOSE_UNAUTHORIZED;
      },
      onNonLazyError: () => {
        // Reported through the `closed` listener below.
      },
      on: {
        connecting: () => connection.set(everConnected ? 'reconnecting' : 'connecting'),
        connected: () => {
          everConnected = true;
          connection.set('connected');
        },
        closed: (event) => {
          if (disposed) return;
          if (event?.code === CLOSE_FORBIDDEN || event?.code === CLOSE_UNAUTHORIZED) {
            onUnauthenticated?.();
            return;
          }
          connection.set(everConnected ? 'reconnecting' : 'connecting');
        },
      },
    });
    // Offline, the socket is dead even if nothing says so: a real network drop sends no close,
    // and Chromium holds an offline socket's frames, a close behind them included. End it now,
    // so the indicator tells the truth and the feed resumes from its cursor once back online.
    const onOffline = () => wsClient.terminate();
    window.addEventListener('offline', onOffline);
    const wsLink = new GraphQLWsLink(wsClient);
    const originalDispose = wsClient.dispose.bind(wsClient);
    wsClient.dispose = () => {
      disposed = true;
      window.removeEventListener('offline', onOffline);
      return originalDispose();
    };
    link = ApolloLink.from([
      errorLink,
      split(
        ({ query }) => {
          const definition = getMainDefinition(query);
          if (definition.kind !== 'OperationDefinition') return false;
          if (definition.operation === 'subscription') return true;
          return SOCKET_MUTATIONS.has(definition.name?.value) && connection.get() === 'connected';
        },
        wsLink,
        httpLink,
      ),
    ]);
  }

  const client = new ApolloClient({ link, cache: createCache() });
  return {
    client,
    wsClient,
    connection,
    dispose() {
      // Resolves once the socket is closed; rejects if it never opened (nothing to do then).
      Promise.resolve(wsClient?.dispose()).catch(() => {});
      client.stop();
      client.clearStore().catch(() => {});
    },
  };
}
