// Message search: words in the messages of your own chats, newest first, the matched words
// marked (<mark>, built as text nodes: a message is never parsed as HTML). A result opens its
// chat. Pages of 20 with "Show older results".
import { h, setChildren } from '../dom.js';
import { formatTime, t } from '../i18n.js';
import '../i18nSearch.js';
import { SEARCH_MESSAGES } from '../searchOperations.js';

const PAGE = 20;

/** The text split into plain parts and marked parts: each word starting with a term is marked. */
export function markTerms(text, terms) {
  const parts = [];
  const lowered = terms.map((term) => term.toLocaleLowerCase());
  const word = /[\p{L}\p{N}_]+/gu;
  let last = 0;
  for (const match of text.matchAll(word)) {
    const candidate = match[0].toLocaleLowerCase();
    if (!lowered.some((term) => candidate.startsWith(term))) continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    parts.push(h('mark', { text: match[0] }));
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

export function mountSearch(root, ctx) {
  const input = h('input', {
    type: 'search',
    id: 'search-messages',
    'data-testid': 'search-input',
    maxlength: '200',
    autocomplete: 'off',
  });
  const results = h('ol', { class: 'search-results', 'data-testid': 'search-results' });
  const status = h('p', { class: 'search-status', role: 'status' });
  const more = h('button', {
    type: 'button',
    class: 'ghost',
    'data-testid': 'search-more',
    hidden: true,
    text: t('searchMore'),
  });
  let current = { query: '', after: null };
  let generation = 0;

  function result(edge, terms) {
    const message = edge.node;
    return h(
      'li',
      { class: 'search-result', 'data-testid': 'search-result' },
      h(
        'a',
        { href: edge.chat ? ctx.chatHref(edge.chat.id) : '#/' },
        h(
          'span',
          { class: 'search-meta' },
          h('strong', { text: message.sender.nickname }),
          ' ',
          edge.chat ? t('searchIn', { chat: edge.chat.name }) : '',
          ' · ',
          h('time', { datetime: message.createdAt, text: formatTime(message.createdAt) }),
        ),
        h(
          'span',
          { class: 'search-text', 'data-testid': 'search-text' },
          markTerms(message.text, terms),
        ),
      ),
    );
  }

  async function run(append) {
    const mine = ++generation;
    const { query, after } = current;
    more.hidden = true;
    try {
      const { data } = await ctx.client.query({
        query: SEARCH_MESSAGES,
        variables: { query, first: PAGE, after },
        fetchPolicy: 'network-only',
      });
      if (mine !== generation) return;
      const found = data.searchMessages;
      if (found.__typename !== 'MessageSearchConnection') {
        status.textContent = t('searchFailed', { message: found.errorMessage });
        if (!append) setChildren(results);
        return;
      }
      const items = found.edges.map((edge) => result(edge, found.terms));
      if (append) results.append(...items);
      else setChildren(results, items);
      status.textContent = results.childElementCount === 0 ? t('searchNothing', { query }) : '';
      current = { query, after: found.pageInfo.endCursor };
      more.hidden = !found.pageInfo.hasNextPage;
    } catch (error) {
      if (mine === generation) status.textContent = t('searchFailed', { message: error.message });
    }
  }

  const form = h(
    'form',
    {
      class: 'search-form',
      role: 'search',
      onSubmit: (event) => {
        event.preventDefault();
        const query = input.value.trim();
        if (!query) return;
        current = { query, after: null };
        run(false);
      },
    },
    h('label', { for: 'search-messages', text: t('searchMessagesLabel') }),
    h(
      'div',
      { class: 'search-row' },
      input,
      h('button', { type: 'submit', text: t('searchButton') }),
    ),
    h('p', { class: 'hint', text: t('searchHint') }),
  );
  more.addEventListener('click', () => run(true));
  root.replaceChildren(
    h(
      'section',
      { class: 'search-view', 'data-testid': 'search-view' },
      h('h2', { text: t('searchMessages') }),
      form,
      status,
      results,
      more,
    ),
  );
  input.focus();
  return () => {
    generation += 1;
  };
}
