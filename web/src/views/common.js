// Pieces shared by several screens: language picker, GraphiQL link, error texts, one-field forms.
import { h, uid } from '../dom.js';
import { LANGUAGES, getLanguage, setLanguage, t } from '../i18n.js';
import { GRAPHQL_PATH } from '../apollo.js';

/** A labelled <select> (label for screen readers) of `[value, text]` choices. */
export function picker({ name, label, testId, choices, value, onChange }) {
  const id = uid(name);
  const select = h(
    'select',
    {
      id,
      class: `${name}-select`,
      'data-testid': testId,
      onChange: (e) => onChange(e.target.value),
    },
    choices.map(([code, text]) => h('option', { value: code, selected: code === value }, text)),
  );
  return h(
    'div',
    { class: `${name}-picker` },
    h('label', { for: id, class: 'sr-only' }, label),
    select,
  );
}

export function languagePicker() {
  return picker({
    name: 'lang',
    label: t('language'),
    testId: 'language',
    choices: Object.entries(LANGUAGES),
    value: getLanguage(),
    onChange: setLanguage,
  });
}

export function graphiqlLink() {
  return h('a', {
    class: 'graphiql-link',
    href: GRAPHQL_PATH,
    target: '_blank',
    rel: 'noopener',
    title: t('graphiqlTitle'),
    text: t('graphiql'),
  });
}

/**
 * A human text, in the page's language where we know the error, for a typed GraphQL error
 * result (or a thrown network error when null); otherwise the server's own message.
 * `textKeyByType` names the text for a type where the screen knows better (e.g. NotFound).
 */
export function errorText(error, textKeyByType = {}) {
  if (!error) return t('networkError');
  if (textKeyByType[error.__typename]) return t(textKeyByType[error.__typename]);
  switch (error.__typename) {
    case 'RateLimited':
      return t('rateLimited', { s: Math.ceil(error.retryAfter ?? 1) });
    case 'Conflict':
      if (error.field === 'login') return t('loginTaken');
      if (error.field === 'nickname') return t('nicknameTaken');
      break;
    case 'Unauthenticated':
      return t('sessionExpired');
    case 'AlreadyAMember':
      return t('alreadyMember');
    case 'NotAMember':
      return t('notMember');
    default:
      break;
  }
  return error.errorMessage || t('unexpectedError');
}

/**
 * Sends the mutation of a form with one field and a button (new chat, direct chat, add
 * member): the old error goes and the button waits while it runs; a `payload` result goes to
 * `onDone`, any other marks the field invalid with its text (`errorKeys` as for errorText), and
 * Unauthenticated also calls `expire`.
 */
export async function submitOneField({
  client,
  mutation,
  variables,
  field,
  payload,
  input,
  error,
  button,
  errorKeys,
  expire,
  onDone,
}) {
  error.textContent = '';
  input.removeAttribute('aria-invalid');
  button.disabled = true;
  try {
    const { data } = await client.mutate({ mutation, variables: variables() });
    const result = data?.[field];
    if (result?.__typename === payload) {
      onDone(result);
    } else {
      if (result?.__typename === 'Unauthenticated') expire();
      error.textContent = errorText(result, errorKeys);
      input.setAttribute('aria-invalid', 'true');
    }
  } catch {
    error.textContent = t('networkError');
  }
  button.disabled = false;
}
