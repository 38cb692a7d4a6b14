// Owner actions in the members panel: remove a member, make someone the owner, rename the chat.
// Shown to the owner only (the server refuses anyone else with NotOwner); the payloads update
// Apollo's cache, so the panel and the chat title redraw from there.
import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import '../i18nOwner.js';
import { REMOVE_MEMBER, RENAME_CHAT, TRANSFER_OWNERSHIP } from '../operations.js';
import { errorText } from './common.js';

export function createOwnerActions({ client, chatId, expire }) {
  const error = h('p', { class: 'field-error', role: 'alert', 'data-testid': 'owner-error' });

  async function run(mutation, variables, field, expected) {
    error.textContent = '';
    try {
      const { data } = await client.mutate({ mutation, variables });
      const result = data?.[field];
      if (result?.__typename === expected) return true;
      if (result?.__typename === 'Unauthenticated') expire();
      error.textContent = errorText(result, { NotOwner: 'notOwner' });
    } catch {
      error.textContent = t('networkError');
    }
    return false;
  }

  /** The buttons beside another member's name. */
  function memberButtons(member) {
    const name = member.user.nickname;
    const variables = { chatId, userId: member.user.id };
    const button = ([testId, label, text, mutation, field, expected]) =>
      h('button', {
        type: 'button',
        class: testId === 'member-remove' ? 'ghost small danger-text' : 'ghost small',
        'data-testid': testId,
        'aria-label': t(label, { name }),
        text: t(text),
        onClick: () => run(mutation, variables, field, expected),
      });
    return h(
      'span',
      { class: 'member-actions' },
      [
        [
          'member-make-owner',
          'makeOwnerLabel',
          'makeOwner',
          TRANSFER_OWNERSHIP,
          'transferOwnership',
          'TransferOwnershipPayload',
        ],
        [
          'member-remove',
          'removeMemberLabel',
          'removeMember',
          REMOVE_MEMBER,
          'removeMember',
          'RemoveMemberPayload',
        ],
      ].map(button),
    );
  }

  const inputId = uid('rename');
  const input = h('input', {
    id: inputId,
    type: 'text',
    maxlength: 100,
    required: true,
    autocomplete: 'off',
    'data-testid': 'rename-input',
  });
  const renameForm = h(
    'form',
    {
      class: 'rename-chat',
      novalidate: true,
      'data-testid': 'rename-form',
      onSubmit: async (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        const done = await run(RENAME_CHAT, { chatId, name }, 'renameChat', 'RenameChatPayload');
        if (done) input.value = '';
      },
    },
    h('label', { for: inputId, text: t('renameChat') }),
    h(
      'div',
      { class: 'inline-field' },
      input,
      h('button', { type: 'submit', class: 'primary', text: t('rename') }),
    ),
  );
  const element = h('div', { class: 'owner-actions', hidden: true }, renameForm, error);

  return {
    element,
    memberButtons,
    /** Shows the rename form to the owner of a group chat only. */
    setOwner(isOwner) {
      element.hidden = !isOwner;
    },
  };
}
