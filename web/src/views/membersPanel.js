// The members of one chat: list, add a member by nickname, leave the chat. A side column on
// wide screens; on narrow ones an overlay opened from the chat header (Escape, a tap outside
// or the back gesture closes it).
import { h, reconcile, setChildren, uid } from '../dom.js';
import { t } from '../i18n.js';
import { ADD_MEMBER, LEAVE_CHAT } from '../operations.js';
import { removeChatFromList } from '../cacheUpdates.js';
import { errorText, submitOneField } from './common.js';
import { trackPanel } from '../panels.js';
import { presenceBadge } from './chatSignals.js';
import { createOwnerActions } from './ownerActions.js';

export const WIDE_SCREEN = '(min-width: 1100px)';

export function createMembersPanel({ client, chatId, myId, expire, goToList, signals }) {
  const panelId = uid('members');
  const toggle = h('button', {
    type: 'button',
    class: 'ghost members-toggle',
    'aria-controls': panelId,
    'data-testid': 'members-toggle',
    onClick: () => setOpen(!open, { moveFocus: true }),
    text: t('members'), // the count comes with the chat's details
  });

  const list = h('ul', { class: 'member-list', 'data-testid': 'member-list' });
  const inputId = uid('add-member');
  const input = h('input', {
    id: inputId,
    name: 'nickname',
    type: 'text',
    required: true,
    maxlength: 32, // auth_service's NICKNAME_MAX
    autocomplete: 'off',
    'aria-describedby': `${inputId}-error ${inputId}-status`,
    'data-testid': 'add-member-nickname',
  });
  const error = h('p', {
    id: `${inputId}-error`,
    class: 'field-error',
    'data-testid': 'add-member-error',
  });
  const status = h('p', { id: `${inputId}-status`, class: 'field-ok', role: 'status' });
  const addButton = h('button', { type: 'submit', class: 'primary', text: t('add') });
  const leaveArea = h('div', { class: 'leave-area' });
  const owner = createOwnerActions({ client, chatId, expire });
  const heading = h('h3', { text: t('members') });
  const element = h(
    'aside',
    {
      id: panelId,
      class: 'members-panel',
      'aria-label': t('members'),
      'data-testid': 'members-panel',
    },
    heading,
    list,
    h(
      'form',
      { class: 'add-member', novalidate: true, onSubmit: onAdd, 'data-testid': 'add-member-form' },
      h('label', { for: inputId, text: t('addMember') }),
      h('div', { class: 'inline-field' }, input, addButton),
      error,
      status,
    ),
    owner.element,
    leaveArea,
  );

  let open = window.matchMedia(WIDE_SCREEN).matches;
  let release = null; // an overlay on narrow screens: see panels.js
  function setOpen(value, { moveFocus = false } = {}) {
    open = value;
    element.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open && !release && !window.matchMedia(WIDE_SCREEN).matches) {
      // Escape, a tap outside or the back gesture closes it.
      release = trackPanel({
        element,
        toggle,
        history: true,
        close: ({ restoreFocus }) => setOpen(false, { moveFocus: restoreFocus }),
      });
    } else if (!open && release) {
      release();
      release = null;
    }
    if (moveFocus) (open ? input : toggle).focus();
  }
  setOpen(open);
  // Crossing the breakpoint: a side column opens, an overlay closes.
  const wide = window.matchMedia(WIDE_SCREEN);
  const onBreakpoint = (event) => setOpen(event.matches);
  wide.addEventListener('change', onBreakpoint);

  function update(members) {
    const iOwn = members.some((member) => member.user.id === myId && member.role === 'OWNER');
    owner.setOwner(iOwn);
    toggle.textContent = `${t('members')} (${members.length})`;
    heading.textContent = t('membersCount', { n: members.length });
    reconcile(
      list,
      members,
      (member) => member.user.id,
      (member, existing) => {
        const li = existing ?? h('li', { class: 'member', 'data-testid': 'member' });
        const tags = [
          member.user.id === myId ? t('you') : null,
          member.role === 'OWNER' ? t('owner') : null,
        ].filter(Boolean);
        setChildren(
          li,
          h('span', {
            class: 'avatar',
            'aria-hidden': 'true',
            text: initial(member.user.nickname),
          }),
          h('span', {
            class: 'member-name',
            'data-testid': 'member-name',
            text: member.user.nickname,
          }),
          tags.length ? h('span', { class: 'member-tags', text: tags.join(', ') }) : null,
          member.user.id !== myId && signals ? presenceBadge(signals, member) : null,
          iOwn && member.user.id !== myId ? owner.memberButtons(member) : null,
        );
        return li;
      },
    );
  }

  async function onAdd(event) {
    event.preventDefault();
    status.textContent = '';
    await submitOneField({
      client,
      mutation: ADD_MEMBER,
      variables: () => ({ chatId, nickname: input.value.trim() }),
      field: 'addMember',
      payload: 'AddMemberPayload',
      input,
      error,
      button: addButton,
      errorKeys: { NotFound: 'noSuchNickname' },
      expire,
      onDone: (result) => {
        input.value = '';
        status.textContent = t('memberAdded', { name: result.member.user.nickname });
      },
    });
  }

  function drawLeave(confirming) {
    if (!confirming) {
      leaveArea.replaceChildren(
        h('button', {
          type: 'button',
          class: 'ghost danger-text',
          'data-testid': 'leave',
          onClick: () => drawLeave(true),
          text: t('leaveChat'),
        }),
      );
      return;
    }
    const yes = h('button', {
      type: 'button',
      class: 'danger',
      'data-testid': 'leave-confirm',
      onClick: onLeave,
      text: t('leaveYes'),
    });
    leaveArea.replaceChildren(
      h('p', { text: t('leaveConfirm') }),
      h(
        'div',
        { class: 'button-row' },
        yes,
        h('button', {
          type: 'button',
          class: 'ghost',
          onClick: () => drawLeave(false),
          text: t('cancel'),
        }),
      ),
    );
    yes.focus();
  }
  drawLeave(false);

  async function onLeave() {
    const gone = new Set(['LeaveChatPayload', 'NotAMember', 'NotFound']);
    try {
      const { data } = await client.mutate({ mutation: LEAVE_CHAT, variables: { chatId } });
      const result = data?.leaveChat;
      if (gone.has(result?.__typename)) {
        goToList();
        removeChatFromList(client.cache, chatId);
        return;
      }
      if (result?.__typename === 'Unauthenticated') expire();
      leaveArea.replaceChildren(
        h('p', { class: 'field-error', role: 'alert', text: errorText(result) }),
      );
    } catch {
      leaveArea.replaceChildren(
        h('p', { class: 'field-error', role: 'alert', text: t('networkError') }),
      );
    }
  }

  function destroy() {
    wide.removeEventListener('change', onBreakpoint);
    release?.({ leaveHistory: true });
    release = null;
  }

  return { element, toggle, update, destroy };
}

function initial(name) {
  return (Array.from(name.trim())[0] ?? '?').toUpperCase();
}
