// GraphQL documents of the account screen and the live signals (re-exported by operations.js).
import { gql } from '@apollo/client';

import { errorFields } from './errorFields.js';

const SIGNED_OUT = `
  __typename
  ... on SignedOut {
    signedOut
  }
  ${errorFields()}
`;

export const SESSIONS = gql`
  query Sessions {
    sessions {
      id
      device
      createdAt
      lastUsedAt
      current
    }
  }
`;

export const SIGN_OUT = gql`
  mutation SignOut {
    signOut {
      ${SIGNED_OUT}
    }
  }
`;

export const SIGN_OUT_EVERYWHERE = gql`
  mutation SignOutEverywhere {
    signOutEverywhere {
      ${SIGNED_OUT}
    }
  }
`;

export const END_SESSION = gql`
  mutation EndSession($id: ID!) {
    endSession(id: $id) {
      ${SIGNED_OUT}
    }
  }
`;

export const CHANGE_PASSWORD = gql`
  mutation ChangePassword($oldPassword: String!, $newPassword: String!) {
    changePassword(oldPassword: $oldPassword, newPassword: $newPassword) {
      __typename
      ... on PasswordChanged {
        signedOut
      }
      ${errorFields('ValidationError', 'RateLimited')}
    }
  }
`;

export const DELETE_ACCOUNT = gql`
  mutation DeleteAccount($password: String!) {
    deleteAccount(password: $password) {
      __typename
      ${errorFields('ValidationError', 'RateLimited')}
    }
  }
`;

export const SET_TYPING = gql`
  mutation SetTyping($chatId: ID!, $typing: Boolean!) {
    setTyping(chatId: $chatId, typing: $typing) {
      __typename
    }
  }
`;
