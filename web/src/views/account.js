// The account screen (#/account): signed-in devices (end any one, or all), change password,
// delete the account. Ending this device's session, or every one, signs this page out too.
import { h, reconcile, uid } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import '../i18nAccounts.js';
import {
  CHANGE_PASSWORD,
  DELETE_ACCOUNT,
  END_SESSION,
  SESSIONS,
  SIGN_OUT_EVERYWHERE,
} from '../operations.js';
import { errorText } from './common.js';

export function mountAccount(container, ctx) {
  const { client } = ctx;
  const status = h('p', { class: 'form-status', role: 'status', 'data-testid': 'account-status' });
  const list = h('ul', { class: 'session-list', 'data-testid': 'session-list' });
  const everywhere = h('button', {
    type: 'button',
    class: 'danger',
    'data-testid': 'sign-out-everywhere',
    text: t('signOutEverywhere'),
    onClick: () => run(SIGN_OUT_EVERYWHERE, {}, 'signOutEverywhere', () => ctx.signedOutHere()),
  });
  const passwordForm = passwordFields('change-password', ['oldPassword', 'newPassword'], onChange);
  const deleteForm = passwordFields('delete-account', ['password'], onDelete);

  container.replaceChildren(
    h(
      'section',
      { class: 'account-view', 'data-testid': 'account-view' },
      h(
        'header',
        { class: 'chat-header' },
        h('a', { class: 'back-link', href: '#/', text: `‹ ${t('back')}` }),
        h('h2', { class: 'chat-title', text: t('accountTitle') }),
      ),
      status,
      h('h3', { text: t('sessions') }),
      list,
      everywhere,
      h('h3', { text: t('changePassword') }),
      passwordForm.form,
      h('h3', { text: t('deleteAccount') }),
      h('p', { class: 'hint', text: t('deleteAccountHint') }),
      deleteForm.form,
    ),
  );

  async function load() {
    try {
      const { data } = await client.query({ query: SESSIONS, fetchPolicy: 'network-only' });
      draw(data?.sessions ?? []);
    } catch {
      status.textContent = t('networkError');
    }
  }

  function draw(sessions) {
    reconcile(
      list,
      sessions,
      (session) => session.id,
      (session) =>
        h(
          'li',
          { class: 'session', 'data-testid': 'session' },
          h('span', { class: 'session-device', text: session.device }),
          h('span', {
            class: 'session-meta',
            text: session.current
              ? t('thisDevice')
              : t('lastUsed', { time: formatTime(session.lastUsedAt) }),
          }),
          h('button', {
            type: 'button',
            class: 'ghost',
            'data-testid': 'end-session',
            text: t('endSession'),
            onClick: () =>
              run(END_SESSION, { id: session.id }, 'endSession', () =>
                session.current ? ctx.signedOutHere() : load(),
              ),
          }),
        ),
    );
  }

  async function run(mutation, variables, field, onDone) {
    status.textContent = '';
    try {
      const { data } = await client.mutate({ mutation, variables });
      const result = data?.[field];
      if (result?.__typename === 'SignedOut') onDone();
      else status.textContent = errorText(result);
    } catch {
      status.textContent = t('networkError');
    }
  }

  async function onChange(values, show) {
    const { data } = await client.mutate({ mutation: CHANGE_PASSWORD, variables: values });
    const result = data?.changePassword;
    if (result?.__typename === 'PasswordChanged') {
      show(null, t('passwordChanged', { n: result.signedOut }));
      load();
    } else show(result);
  }

  async function onDelete(values, show) {
    const { data } = await client.mutate({ mutation: DELETE_ACCOUNT, variables: values });
    const result = data?.deleteAccount;
    if (result?.__typename === 'AccountDeleted') ctx.accountDeleted();
    else show(result);
  }

  load();
  return () => {};
}

/** A small form of password fields; `submit(values, show)` shows an error or a notice. */
function passwordFields(name, fields, submit) {
  const inputs = {};
  const message = h('p', { class: 'form-error', role: 'alert', 'data-testid': `${name}-error` });
  const rows = fields.map((field) => {
    const id = uid(`${name}-${field}`);
    inputs[field] = h('input', {
      id,
      type: 'password',
      required: true,
      maxlength: 256,
      autocomplete: field === 'newPassword' ? 'new-password' : 'current-password',
      'data-testid': `${name}-${field}`,
    });
    const label = name === 'delete-account' ? t('deleteAccountConfirm') : t(field);
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), inputs[field]);
  });
  const show = (error, notice) => {
    message.textContent = notice ?? errorText(error);
    message.classList.toggle('notice', Boolean(notice));
  };
  const form = h(
    'form',
    {
      class: 'account-form',
      novalidate: true,
      'data-testid': name,
      onSubmit: async (event) => {
        event.preventDefault();
        const values = Object.fromEntries(fields.map((field) => [field, inputs[field].value]));
        message.textContent = '';
        try {
          await submit(values, show);
          for (const input of Object.values(inputs)) input.value = '';
        } catch {
          show(null);
        }
      },
    },
    rows,
    message,
    h('button', {
      type: 'submit',
      class: name === 'delete-account' ? 'danger' : '',
      'data-testid': `${name}-submit`,
      text: name === 'delete-account' ? t('deleteAccount') : t('changePassword'),
    }),
  );
  return { form };
}
