// What the GraphiQL page starts with: the example query, the headers and where state is kept.

export const EXAMPLE_QUERY = `# MyChat GraphQL API
# Opened from the web app, the Headers tab holds your
# token; else run the \`login\` mutation and put
#   {"Authorization": "Bearer <token>"}
# there. Ctrl+Enter runs the operation at the cursor;
# the book icon on the left opens the schema docs.
query MyChats {
  me { id nickname }
  chats(first: 10) {
    edges {
      node {
        id
        name
        unreadCount
        members { user { nickname } role }
        lastMessage { text sender { nickname } createdAt }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}

# A mutation: expected failures come back as typed errors.
mutation CreateChat {
  createChat(name: "Made in GraphiQL") {
    __typename
    ... on CreateChatPayload { chat { id name } }
    ... on Error { code message }
  }
}

# Live events: select this operation and run it, then send a message from the app.
subscription ChatEvents {
  chatEvents {
    __typename
    ... on MessageAdded { chat { name } message { text sender { nickname } createdAt } }
  }
}
`;

/** The Headers editor's first content: the signed-in user's token, if any. */
export function initialHeaders(session) {
  if (!session || session.expired || !session.token) return '{}';
  return JSON.stringify({ Authorization: `Bearer ${session.token}` }, null, 2);
}

const PREFIX = 'mychat.graphiql:';

/** GraphiQL's state in the given Storage (sessionStorage), under its own prefix. Nothing
 * goes to localStorage: the token must not outlive the tab. */
export function scopedStorage(backing) {
  const keys = () => {
    const found = [];
    for (let index = 0; index < backing.length; index += 1) {
      const key = backing.key(index);
      if (key?.startsWith(PREFIX)) found.push(key);
    }
    return found;
  };
  return {
    getItem: (key) => backing.getItem(PREFIX + key),
    setItem: (key, value) => backing.setItem(PREFIX + key, value),
    removeItem: (key) => backing.removeItem(PREFIX + key),
    clear: () => keys().forEach((key) => backing.removeItem(key)),
    key: (index) => keys()[index]?.slice(PREFIX.length) ?? null,
    get length() {
      return keys().length;
    },
  };
}
