// "Message someone": open the one-to-one chat with a nickname (made the first time, the same
// one after; named after the other person).
import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import '../i18nOwner.js';
import { START_DIRECT_CHAT } from '../operations.js';
import { addChatToList } from '../cacheUpdates.js';
import { submitOneField } from './common.js';

export function directChatForm(ctx) {
  const { client, chatHref } = ctx;
  const inputId = uid('direct-chat');
  const input = h('input', {
    id: inputId,
    type: 'text',
    required: true,
    maxlength: 32,
    autocomplete: 'off',
    'aria-describedby': `${inputId}-error`,
    'data-testid': 'direct-chat-nickname',
  });
  const error = h('p', {
    id: `${inputId}-error`,
    class: 'field-error',
    'data-testid': 'direct-chat-error',
  });
  const button = h('button', { type: 'submit', class: 'primary', text: t('directChatStart') });

  async function onSubmit(event) {
    event.preventDefault();
    await submitOneField({
      client,
      mutation: START_DIRECT_CHAT,
      variables: () => ({ nickname: input.value.trim() }),
      field: 'startDirectChat',
      payload: 'StartDirectChatPayload',
      input,
      error,
      button,
      errorKeys: { NotFound: 'noSuchNickname' },
      expire: () => ctx.expire(),
      onDone: (result) => {
        addChatToList(client.cache, result.chat);
        input.value = '';
        window.location.hash = chatHref(result.chat.id);
      },
    });
  }

  return h(
    'form',
    {
      class: 'new-chat direct-chat',
      novalidate: true,
      onSubmit,
      'data-testid': 'direct-chat-form',
    },
    h('label', { for: inputId, text: t('directChat') }),
    h('div', { class: 'inline-field' }, input, button),
    error,
  );
}
