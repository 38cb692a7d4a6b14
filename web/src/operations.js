// Every GraphQL document the page sends (the contract is the gateway's schema.graphql).
import { gql } from '@apollo/client';

import { errorFields } from './errorFields.js';

export * from './accountOperations.js';
export * from './messageOperations.js';
export * from './searchOperations.js';

export const MESSAGE_FIELDS = gql`
  fragment MessageFields on Message {
    id
    databaseId
    text
    createdAt
    editedAt
    deletedAt
    kind
    clientId
    chatId
    sender {
      id
      nickname
    }
    reactions {
      emoji
      count
      reactedByMe
      users {
        id
        nickname
      }
    }
    replyTo {
      messageId
      databaseId
      text
      deletedAt
      sender {
        id
        nickname
      }
    }
  }
`;

export const MEMBER_FIELDS = gql`
  fragment MemberFields on Member {
    role
    joinedAt
    online
    lastSeenAt
    readUpTo
    user {
      id
      nickname
    }
  }
`;

export const CHAT_LIST_FIELDS = gql`
  fragment ChatListFields on Chat {
    id
    databaseId
    name
    createdAt
    lastActivityAt
    unreadCount
    myRole
    lastMessage {
      ...MessageFields
    }
  }
  ${MESSAGE_FIELDS}
`;

export const ME = gql`
  query Me {
    me {
      id
      login
      nickname
    }
  }
`;

export const CHATS = gql`
  query Chats($first: Int, $after: String) {
    chats(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...ChatListFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
  ${CHAT_LIST_FIELDS}
`;

export const CHAT = gql`
  query Chat($id: ID!) {
    chat(id: $id) {
      ...ChatListFields
      members {
        ...MemberFields
      }
    }
  }
  ${CHAT_LIST_FIELDS}
  ${MEMBER_FIELDS}
`;

export const CHAT_MESSAGES = gql`
  query ChatMessages($id: ID!, $last: Int, $before: String) {
    chat(id: $id) {
      id
      messages(last: $last, before: $before) {
        edges {
          cursor
          node {
            ...MessageFields
          }
        }
        pageInfo {
          hasPreviousPage
          startCursor
        }
      }
    }
  }
  ${MESSAGE_FIELDS}
`;

const AUTH_RESULT = `
  __typename
  ... on AuthPayload {
    token
    expiresAt
    user {
      id
      login
      nickname
    }
  }
  ${errorFields('ValidationError', 'Conflict', 'RateLimited')}
`;

export const REGISTER = gql`
  mutation Register($login: String!, $password: String!, $nickname: String!) {
    register(login: $login, password: $password, nickname: $nickname) {
      ${AUTH_RESULT}
    }
  }
`;

export const LOGIN = gql`
  mutation Login($login: String!, $password: String!) {
    login(login: $login, password: $password) {
      ${AUTH_RESULT}
    }
  }
`;

export const CREATE_CHAT = gql`
  mutation CreateChat($name: String!) {
    createChat(name: $name) {
      __typename
      ... on CreateChatPayload {
        chat {
          ...ChatListFields
          members {
            ...MemberFields
          }
        }
      }
      ${errorFields('ValidationError')}
    }
  }
  ${CHAT_LIST_FIELDS}
  ${MEMBER_FIELDS}
`;

export const ADD_MEMBER = gql`
  mutation AddMember($chatId: ID!, $nickname: String!) {
    addMember(chatId: $chatId, nickname: $nickname) {
      __typename
      ... on AddMemberPayload {
        chat {
          id
          members {
            ...MemberFields
          }
        }
        member {
          ...MemberFields
        }
      }
      ${errorFields('ValidationError')}
    }
  }
  ${MEMBER_FIELDS}
`;

export const LEAVE_CHAT = gql`
  mutation LeaveChat($chatId: ID!) {
    leaveChat(chatId: $chatId) {
      __typename
      ... on LeaveChatPayload {
        chatId
      }
      ${errorFields()}
    }
  }
`;

export const SEND_MESSAGE = gql`
  mutation SendMessage($chatId: ID!, $text: String!, $clientId: String, $replyTo: ID) {
    sendMessage(chatId: $chatId, text: $text, clientId: $clientId, replyTo: $replyTo) {
      __typename
      ... on SendMessagePayload {
        message {
          ...MessageFields
        }
      }
      ${errorFields('ValidationError', 'RateLimited')}
    }
  }
  ${MESSAGE_FIELDS}
`;

export const MARK_READ = gql`
  mutation MarkRead($chatId: ID!, $messageId: ID!) {
    markRead(chatId: $chatId, messageId: $messageId) {
      __typename
      ... on MarkReadPayload {
        chat {
          id
          unreadCount
        }
      }
      ${errorFields('ValidationError')}
    }
  }
`;

export const CHAT_EVENTS = gql`
  subscription ChatEvents($after: ID) {
    chatEvents(after: $after, signals: true, presenceBatches: true) {
      __typename
      ... on MessageAdded {
        message {
          ...MessageFields
        }
        chat {
          ...ChatListFields
        }
      }
      ... on MessageEdited {
        message {
          ...MessageFields
        }
      }
      ... on MessageDeleted {
        message {
          ...MessageFields
        }
      }
      ... on ReactionsChanged {
        message {
          ...MessageFields
        }
      }
      ... on MemberAdded {
        chat {
          id
          lastActivityAt
          members {
            ...MemberFields
          }
        }
        member {
          ...MemberFields
        }
        line {
          ...MessageFields
        }
      }
      ... on MemberLeft {
        chat {
          id
          members {
            ...MemberFields
          }
        }
        user {
          id
          nickname
        }
        line {
          ...MessageFields
        }
      }
      ... on AddedToChat {
        chat {
          ...ChatListFields
          members {
            ...MemberFields
          }
        }
      }
      ... on RemovedFromChat {
        chatId
      }
      ... on ChatRenamed {
        chatId
        name
        by {
          id
          nickname
        }
        line {
          ...MessageFields
        }
      }
      ... on MemberRemoved {
        chatId
        user {
          id
          nickname
        }
        by {
          id
          nickname
        }
        line {
          ...MessageFields
        }
      }
      ... on OwnerChanged {
        chatId
        owner {
          id
          nickname
        }
      }
      ... on Typing {
        chatId
        typing
        user {
          id
          nickname
        }
      }
      ... on MessagesRead {
        chatId
        readUpTo
        user {
          id
          nickname
        }
        ownChat {
          id
          unreadCount
        }
      }
      ... on PresencesChanged {
        changes {
          online
          lastSeenAt
          user {
            id
            nickname
          }
        }
      }
    }
  }
  ${CHAT_LIST_FIELDS}
  ${MEMBER_FIELDS}
`;

// Owner actions and direct chats.
export const RENAME_CHAT = gql`
  mutation RenameChat($chatId: ID!, $name: String!) {
    renameChat(chatId: $chatId, name: $name) {
      __typename
      ... on RenameChatPayload {
        chat {
          id
          name
        }
      }
      ${errorFields('ValidationError')}
    }
  }
`;

export const REMOVE_MEMBER = gql`
  mutation RemoveMember($chatId: ID!, $userId: ID!) {
    removeMember(chatId: $chatId, userId: $userId) {
      __typename
      ... on RemoveMemberPayload {
        userId
        chat {
          id
          members {
            ...MemberFields
          }
        }
      }
      ${errorFields('ValidationError')}
    }
  }
  ${MEMBER_FIELDS}
`;

export const TRANSFER_OWNERSHIP = gql`
  mutation TransferOwnership($chatId: ID!, $userId: ID!) {
    transferOwnership(chatId: $chatId, userId: $userId) {
      __typename
      ... on TransferOwnershipPayload {
        chat {
          id
          myRole
          members {
            ...MemberFields
          }
        }
      }
      ${errorFields('ValidationError')}
    }
  }
  ${MEMBER_FIELDS}
`;

export const START_DIRECT_CHAT = gql`
  mutation StartDirectChat($nickname: String!) {
    startDirectChat(nickname: $nickname) {
      __typename
      ... on StartDirectChatPayload {
        created
        chat {
          ...ChatListFields
          isDirect
        }
      }
      ${errorFields('ValidationError')}
    }
  }
  ${CHAT_LIST_FIELDS}
`;
