// Sign in / register. Field errors from the server (ValidationError / Conflict `field`) are shown
// under the field they belong to; anything else above the button.
import { h, uid } from '../dom.js';
import { t } from '../i18n.js';
import { LOGIN, REGISTER } from '../operations.js';
import { errorText, graphiqlLink, languagePicker } from './common.js';
import { themePicker } from './settings.js';

// The server's limits (auth_service): typing stops there instead of failing on submit.
const MAX_LENGTH = { login: 64, nickname: 32, password: 256 };

const FIELDS = {
  signin: ['login', 'password'],
  register: ['login', 'nickname', 'password'],
};

/**
 * `state` survives re-renders (language switch): {mode, values, notice (a text key)}.
 * `onSignedIn(authPayload)` is called with {token, user, expiresAt}.
 */
export function mountAuth(root, { client, state, onSignedIn }) {
  const mode = state.mode;
  const fieldEls = {};
  const errorEls = {};
  const formError = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'form-error' });

  function field(name) {
    const id = uid(`auth-${name}`);
    const errorId = `${id}-error`;
    const hintId = `${id}-hint`;
    const input = h('input', {
      id,
      name,
      type: name === 'password' ? 'password' : 'text',
      autocomplete:
        name === 'password'
          ? mode === 'register'
            ? 'new-password'
            : 'current-password'
          : name === 'login'
            ? 'username'
            : 'nickname',
      required: true,
      maxlength: MAX_LENGTH[name],
      value: state.values[name] ?? '',
      'aria-describedby': [errorId, name === 'nickname' ? hintId : null].filter(Boolean).join(' '),
      onInput: (e) => {
        state.values[name] = name === 'password' ? '' : e.target.value;
        clearFieldError(name);
      },
    });
    fieldEls[name] = input;
    errorEls[name] = h('p', { id: errorId, class: 'field-error', 'data-testid': `error-${name}` });
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id, text: t(name) }),
      input,
      name === 'nickname' && mode === 'register'
        ? h('p', { id: hintId, class: 'hint', text: t('nicknameHint') })
        : null,
      errorEls[name],
    );
  }

  function clearFieldError(name) {
    errorEls[name].textContent = '';
    fieldEls[name].removeAttribute('aria-invalid');
  }

  function showFieldError(name, message) {
    errorEls[name].textContent = message;
    fieldEls[name].setAttribute('aria-invalid', 'true');
  }

  const submit = h('button', {
    type: 'submit',
    class: 'primary',
    text: mode === 'register' ? t('register') : t('signIn'),
  });

  async function onSubmit(event) {
    event.preventDefault();
    formError.textContent = '';
    for (const name of FIELDS[mode]) clearFieldError(name);
    const variables = Object.fromEntries(FIELDS[mode].map((name) => [name, fieldEls[name].value]));
    const empty = FIELDS[mode].filter((name) => !variables[name].trim());
    if (empty.length) {
      for (const name of empty) showFieldError(name, t('required'));
      fieldEls[empty[0]].focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t('working');
    try {
      const { data } = await client.mutate({
        mutation: mode === 'register' ? REGISTER : LOGIN,
        variables,
      });
      const result = data?.[mode === 'register' ? 'register' : 'login'];
      if (result?.__typename === 'AuthPayload') {
        state.values = {};
        onSignedIn(result);
        return;
      }
      const target = result?.field && fieldEls[result.field] ? result.field : null;
      if (target) {
        showFieldError(target, errorText(result, { Unauthenticated: 'badCredentials' }));
        fieldEls[target].focus();
      } else {
        formError.textContent = errorText(result, { Unauthenticated: 'badCredentials' });
      }
    } catch {
      formError.textContent = t('networkError');
    }
    submit.disabled = false;
    submit.textContent = mode === 'register' ? t('register') : t('signIn');
  }

  const switchMode = h('button', {
    type: 'button',
    class: 'link-button',
    'data-testid': 'switch-auth-mode',
    text: mode === 'register' ? t('switchToSignIn') : t('switchToRegister'),
    onClick: () => {
      state.mode = mode === 'register' ? 'signin' : 'register';
      state.notice = null;
      state.rerender();
    },
  });

  const titleId = uid('auth-title');
  const card = h(
    'main',
    { class: 'auth-card', 'aria-labelledby': titleId },
    h(
      'div',
      { class: 'brand brand-large' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      t('appName'),
    ),
    h('h1', { id: titleId, text: mode === 'register' ? t('registerTitle') : t('signInTitle') }),
    state.notice
      ? h('p', {
          class: 'notice',
          role: 'status',
          'data-testid': 'auth-notice',
          text: t(state.notice),
        })
      : null,
    h(
      'form',
      { novalidate: true, onSubmit, 'data-testid': `${mode}-form` },
      FIELDS[mode].map(field),
      formError,
      submit,
    ),
    h(
      'p',
      { class: 'switch-mode' },
      mode === 'register' ? t('haveAccount') : t('noAccount'),
      ' ',
      switchMode,
    ),
  );

  root.replaceChildren(
    h(
      'div',
      { class: 'auth-page' },
      h('div', { class: 'auth-tools' }, languagePicker(), themePicker(), graphiqlLink()),
      card,
    ),
  );
  fieldEls.login.focus();
  return () => {};
}
