// GraphQL document of the message search screen (views/search.js).
import { gql } from '@apollo/client';

export const SEARCH_MESSAGES = gql`
  query SearchMessages($query: String!, $first: Int, $after: String) {
    searchMessages(query: $query, first: $first, after: $after) {
      __typename
      ... on MessageSearchConnection {
        terms
        edges {
          cursor
          node {
            id
            text
            createdAt
            sender {
              id
              nickname
            }
          }
          chat {
            id
            name
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
      ... on Error {
        errorMessage: message
        code
      }
    }
  }
`;
