// The message verbs in the chat view: edit and delete one's own message, the "edited" mark
// and the tombstone of a deleted message. The server's answer (and everyone's live event)
// updates the message in Apollo's normalised cache; the chat view then redraws it.
import { h } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import '../i18nMessages.js';
import { DELETE_MESSAGE, EDIT_MESSAGE, TOGGLE_REACTION } from '../operations.js';
import { errorText } from './common.js';

const ERROR_TEXT = {
  NotTheAuthor: 'notTheAuthor',
  AlreadyDeleted: 'alreadyDeleted',
  ValidationError: 'badEmoji',
};
const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '😢'];

/** The first line of a text, as the server quotes it (chat_service/replies.py). */
export function firstLine(text) {
  return text.trim().split('\n', 1)[0].trim();
}

/**
 * `redraw()` redraws the chat's messages; `messages()` gives them, oldest first;
 * `onReply(quote)` starts a reply in the composer; `jumpTo(messageId)` shows a message.
 */
export function createMessageActions({ client, myId, redraw, messages, onReply, jumpTo }) {
  let editingId = null; // the message whose text is open in an editor
  let confirmingId = null; // the message asking "Delete for everyone?"
  let busyId = null; // a mutation in flight for this message
  let pickingId = null; // the message whose reaction picker is open
  const errors = new Map(); // message id -> the text of the last refusal

  function changeable(message) {
    return message.sender.id === myId && !message.deletedAt;
  }

  function set(next) {
    ({
      editingId = editingId,
      confirmingId = confirmingId,
      busyId = busyId,
      pickingId = pickingId,
    } = next);
    redraw();
  }

  async function run(message, mutation, variables, field) {
    errors.delete(message.id);
    set({ busyId: message.id });
    let refusal = null;
    try {
      const { data } = await client.mutate({ mutation, variables });
      const result = data?.[field];
      if (result?.__typename !== 'MessagePayload') refusal = errorText(result, ERROR_TEXT);
    } catch {
      refusal = errorText(null);
    }
    if (refusal) {
      errors.set(message.id, refusal);
      set({ busyId: null });
      return false;
    }
    set({ busyId: null, editingId: null, confirmingId: null, pickingId: null });
    return true;
  }

  function toggle(message, emoji) {
    if (!emoji.trim()) return;
    run(message, TOGGLE_REACTION, { messageId: message.id, emoji: emoji.trim() }, 'toggleReaction');
  }

  function picker(message) {
    const other = h('input', {
      class: 'reaction-input',
      'aria-label': t('otherEmoji'),
      placeholder: t('otherEmoji'),
      maxlength: 16,
      'data-testid': 'reaction-input',
    });
    return h(
      'form',
      {
        class: 'reaction-picker',
        'data-testid': 'reaction-picker',
        onSubmit: (event) => {
          event.preventDefault();
          toggle(message, other.value);
        },
      },
      QUICK_REACTIONS.map((emoji) =>
        h('button', {
          type: 'button',
          class: 'reaction-choice',
          'aria-label': t('reactWith', { emoji }),
          onClick: () => toggle(message, emoji),
          text: emoji,
        }),
      ),
      other,
      h('button', { type: 'submit', class: 'link-button', text: t('add') }),
      h('button', {
        type: 'button',
        class: 'link-button',
        onClick: () => set({ pickingId: null }),
        text: t('cancel'),
      }),
    );
  }

  function save(message, text) {
    if (text.trim() === message.text) {
      set({ editingId: null });
      return;
    }
    run(message, EDIT_MESSAGE, { messageId: message.id, text }, 'editMessage');
  }

  function editor(message) {
    const field = h('textarea', {
      class: 'edit-field',
      rows: Math.min(6, message.text.split('\n').length),
      'aria-label': t('editLabel'),
      'data-testid': 'edit-field',
    });
    field.value = message.text;
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save(message, field.value);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        set({ editingId: null });
      }
    });
    // Focus once it is on the page (the chat view inserts it after this returns).
    queueMicrotask(() => {
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    });
    return h(
      'form',
      {
        class: 'edit-form',
        onSubmit: (event) => {
          event.preventDefault();
          save(message, field.value);
        },
      },
      field,
      h(
        'div',
        { class: 'message-actions' },
        h('button', {
          type: 'submit',
          class: 'link-button',
          'data-testid': 'edit-save',
          disabled: busyId === message.id,
          text: t('save'),
        }),
        h('button', {
          type: 'button',
          class: 'link-button',
          'data-testid': 'edit-cancel',
          onClick: () => set({ editingId: null }),
          text: t('cancel'),
        }),
      ),
    );
  }

  function reactionChips(message) {
    const reactions = message.reactions ?? [];
    if (!reactions.length) return null;
    return h(
      'div',
      { class: 'reactions', 'data-testid': 'reactions' },
      reactions.map((reaction) => {
        const names = reaction.users.map((user) => user.nickname).join(', ');
        return h(
          'button',
          {
            type: 'button',
            class: reaction.reactedByMe ? 'reaction mine' : 'reaction',
            'aria-pressed': reaction.reactedByMe ? 'true' : 'false',
            'aria-label': t('reactionBy', { emoji: reaction.emoji, names }),
            title: names,
            'data-testid': 'reaction',
            onClick: () => toggle(message, reaction.emoji),
          },
          h('span', { 'aria-hidden': 'true', text: reaction.emoji }),
          h('span', { class: 'reaction-count', text: String(reaction.count) }),
        );
      }),
    );
  }

  /** The answered message as it is now: from the page when loaded, else the server's quote. */
  function original(message) {
    const quote = message.replyTo;
    if (!quote) return null;
    const loaded = messages().find((candidate) => candidate.id === quote.messageId);
    if (!loaded) return quote;
    return { ...quote, text: firstLine(loaded.text), deletedAt: loaded.deletedAt };
  }

  function reactButton(message) {
    return h('button', {
      type: 'button',
      class: 'link-button',
      'aria-expanded': pickingId === message.id ? 'true' : 'false',
      'data-testid': 'react',
      onClick: () => set({ pickingId: pickingId === message.id ? null : message.id }),
      text: t('react'),
    });
  }

  function replyButton(message) {
    return h('button', {
      type: 'button',
      class: 'link-button',
      'data-testid': 'reply-message',
      onClick: () =>
        onReply({
          messageId: message.id,
          databaseId: message.databaseId,
          text: firstLine(message.text),
          deletedAt: null,
          sender: message.sender,
        }),
      text: t('reply'),
    });
  }

  function actionButtons(message) {
    if (confirmingId === message.id) {
      return h(
        'div',
        { class: 'message-actions', role: 'group', 'aria-label': t('deleteConfirm') },
        h('span', { text: t('deleteConfirm') }),
        h('button', {
          type: 'button',
          class: 'link-button',
          'data-testid': 'delete-confirm',
          disabled: busyId === message.id,
          onClick: () => run(message, DELETE_MESSAGE, { messageId: message.id }, 'deleteMessage'),
          text: t('deleteYes'),
        }),
        h('button', {
          type: 'button',
          class: 'link-button',
          'data-testid': 'delete-cancel',
          onClick: () => set({ confirmingId: null }),
          text: t('cancel'),
        }),
      );
    }
    if (!changeable(message)) {
      return h('div', { class: 'message-actions' }, reactButton(message), replyButton(message));
    }
    return h(
      'div',
      { class: 'message-actions' },
      reactButton(message),
      replyButton(message),
      h('button', {
        type: 'button',
        class: 'link-button',
        'data-testid': 'edit-message',
        onClick: () => set({ editingId: message.id, confirmingId: null }),
        text: t('editMessage'),
      }),
      h('button', {
        type: 'button',
        class: 'link-button',
        'data-testid': 'delete-message',
        onClick: () => set({ confirmingId: message.id, editingId: null }),
        text: t('deleteMessage'),
      }),
    );
  }

  return {
    /** What the message's key needs so that a change (or opening the editor) redraws it. */
    keySuffix(message) {
      const state =
        (editingId === message.id ? 'E' : '') +
        (confirmingId === message.id ? 'C' : '') +
        (pickingId === message.id ? 'P' : '');
      const reacted = (message.reactions ?? [])
        .map((r) => `${r.emoji}${r.count}${r.reactedByMe ? '*' : ''}`)
        .join(',');
      const error = errors.has(message.id) ? '!' : '';
      const quoted = original(message);
      const quote = quoted ? `:${quoted.deletedAt ? 'D' : quoted.text}` : '';
      const changed = `${message.editedAt ?? ''}:${message.deletedAt ? 'D' : ''}`;
      return `:${changed}${state}${error}${quote}:${reacted}`;
    },

    /** The quote of the answered message, a button that shows it (null: not a reply). */
    quote(message) {
      const quoted = original(message);
      if (!quoted || message.deletedAt) return null;
      return h(
        'button',
        {
          type: 'button',
          class: 'quote',
          'data-testid': 'reply-quote',
          'aria-label': t('goToQuoted', { name: quoted.sender.nickname }),
          onClick: () => jumpTo(quoted.messageId),
        },
        h('span', { class: 'quote-sender', text: quoted.sender.nickname }),
        h('span', {
          class: quoted.deletedAt ? 'quote-text deleted' : 'quote-text',
          'data-testid': 'reply-quote-text',
          text: quoted.deletedAt ? t('messageDeleted') : quoted.text,
        }),
      );
    },

    /** The text, or its editor, or the tombstone. */
    text(message) {
      if (message.deletedAt) {
        return h('p', {
          class: 'text deleted',
          'data-testid': 'message-deleted',
          text: t('messageDeleted'),
        });
      }
      if (editingId === message.id) return editor(message);
      return h('p', { class: 'text', 'data-testid': 'message-text', text: message.text });
    },

    /** The "edited" mark for the meta line (null when never edited or deleted). */
    editedMark(message) {
      if (!message.editedAt || message.deletedAt) return null;
      return h('span', {
        class: 'edited',
        'data-testid': 'message-edited',
        title: t('editedAt', { time: formatTime(message.editedAt) }),
        text: ` · ${t('edited')}`,
      });
    },

    /** Reactions, then React and Reply under every message, Edit and Delete under one's own,
     * the reaction picker when open, and the last refusal. */
    footer(message) {
      if (message.deletedAt || editingId === message.id) return null;
      const error = errors.get(message.id);
      return [
        reactionChips(message),
        actionButtons(message),
        pickingId === message.id ? picker(message) : null,
        error ? h('p', { class: 'action-error', role: 'alert', text: error }) : null,
      ];
    },

    /** Up in an empty composer: open the last own message that can still change. */
    editLast() {
      const last = [...messages()].reverse().find(changeable);
      if (!last) return false;
      set({ editingId: last.id, confirmingId: null });
      return true;
    },
  };
}
