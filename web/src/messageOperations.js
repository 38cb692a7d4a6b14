// GraphQL documents of the message verbs: edit, delete, react (re-exported by operations.js).
import { gql } from '@apollo/client';

import { errorFields } from './errorFields.js';

// `message` of the payload is the whole message as stored now: Apollo's normalised cache
// updates it everywhere it shows (the chat, the chat list's preview).
const CHANGED = `
  __typename
  ... on MessagePayload {
    message {
      id
      text
      editedAt
      deletedAt
    }
  }
  ${errorFields()}
`;

export const EDIT_MESSAGE = gql`
  mutation EditMessage($messageId: ID!, $text: String!) {
    editMessage(messageId: $messageId, text: $text) {
      ${CHANGED}
      ... on RateLimited {
        retryAfter
      }
      ... on ValidationError {
        field
      }
    }
  }
`;

export const DELETE_MESSAGE = gql`
  mutation DeleteMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      ${CHANGED}
    }
  }
`;

export const TOGGLE_REACTION = gql`
  mutation ToggleReaction($messageId: ID!, $emoji: String!) {
    toggleReaction(messageId: $messageId, emoji: $emoji) {
      __typename
      ... on MessagePayload {
        message {
          id
          reactions {
            emoji
            count
            reactedByMe
            users {
              id
              nickname
            }
          }
        }
      }
      ${errorFields('RateLimited')}
    }
  }
`;
