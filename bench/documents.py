"""The GraphQL documents the benchmark sends, the same text to ours and to the bare baseline."""

from __future__ import annotations

HISTORY = """query History($chatId: ID!) {
  chat(id: $chatId) {
    id
    name
    messages(last: 50) {
      edges {
        cursor
        node { id databaseId text createdAt clientId chatId sender { id nickname } }
      }
      pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
    }
  }
}"""

ME = "query Me { me { id login nickname } }"

SEND = """mutation Send($chatId: ID!, $text: String!) {
  sendMessage(chatId: $chatId, text: $text) {
    __typename
    ... on SendMessagePayload {
      message { id databaseId text createdAt chatId sender { id nickname } }
    }
    ... on Error { errorMessage: message code }
  }
}"""

HELLO = "query Hello { hello }"

# The subscription each fan-out and idle-connection subscriber holds (graphql-transport-ws).
# `after` (a Message id or null) makes the gateway catch up from there first: no gap.
MESSAGE_ADDED = """subscription Watch($chatId: ID!, $after: ID) {
  messageAdded(chatId: $chatId, after: $after) {
    id databaseId text createdAt sender { id nickname }
  }
}"""
