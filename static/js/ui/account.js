// Account UI: the account part of the settings, the sign-in dialog (a login from your site:
// useridcombo and secret) and the card shown when a room needs an account.

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';
import { modal, toast } from './dialogs.js';

/** A short explanation of an account error for people. */
export function accountErrorText(err) {
  switch (err && err.code) {
    case 'network': return t('The server could not be reached. Check your connection and try again.');
    case 'expired': return t('This login has expired. Ask for a new one.');
    case 'session_patch_failed': return t('The server did not accept this login.');
    case 'users_request_failed':
    case 'already_authenticated': return t('This session is already signed in.');
    case 'incomplete': return t('Please fill in both fields.');
    default: return t('Signing in failed: %s', (err && err.message) || '');
  }
}

/** Ask for a login (sharedsecret mode) and sign in with it. Resolves true when signed in. */
export async function signInDialog(app) {
  const combo = h('input', { class: 'input', type: 'text', autocomplete: 'username', spellcheck: 'false', placeholder: '1767225600:alice', name: 'useridcombo' });
  const secret = h('input', { class: 'input', type: 'password', autocomplete: 'current-password', name: 'secret' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const comboId = 'signin-combo';
  const secretId = 'signin-secret';
  combo.id = comboId;
  secret.id = secretId;
  let result = false;
  await modal({
    title: t('Sign in'),
    className: 'signin-dialog',
    body: [
      h('p', { text: t('Enter the login that your organisation gave you. It has two parts: the user part (it looks like "expiry:user") and the secret.') }),
      h('div', { class: 'field' }, h('label', { for: comboId, text: t('User') }), combo),
      h('div', { class: 'field' }, h('label', { for: secretId, text: t('Secret') }), secret),
      error,
    ],
    buttons: [{ label: t('Cancel'), value: false }, { label: t('Sign in'), value: true, kind: 'primary', submit: true }],
    onOpen: (dialog, close) => {
      combo.focus();
      // keep the dialog open while the login is checked, to show errors in place
      dialog.querySelector('form').addEventListener('submit', async (ev) => {
        ev.stopImmediatePropagation();
        ev.preventDefault();
        show(error, false);
        try {
          await app.accounts.signIn(combo.value, secret.value);
          result = true;
          close(true);
        } catch (err) {
          setText(error, accountErrorText(err));
          show(error, true);
        }
      }, { capture: true });
    },
  });
  return result;
}

/** Create an account now (sharedsecret registration). */
export async function register(app) {
  try {
    const userid = await app.accounts.register();
    toast(t('Your account has been created. You are signed in as %s.', userid), { kind: 'ok', timeout: 6000 });
    return true;
  } catch (err) {
    toast(t('The account could not be created: %s', err.message), { kind: 'error' });
    return false;
  }
}

/** Buttons to sign in (or register) as far as this server allows; empty when it signs people in by itself. */
export function signInButtons(app, { onDone = null } = {}) {
  const accounts = app.accounts;
  const buttons = [];
  if (accounts.canRegister) {
    buttons.push(h('button', {
      class: 'btn btn-primary account-register', type: 'button',
      on: { click: async () => { if (await register(app) && onDone) onDone(); } },
    }, icon('user'), h('span', { text: t('Create an account') })));
  }
  if (accounts.acceptsLogins) {
    buttons.push(h('button', {
      class: 'btn account-signin', type: 'button',
      on: { click: async () => { if (await signInDialog(app) && onDone) onDone(); } },
    }, icon('signIn'), h('span', { text: t('Sign in…') })));
  }
  return buttons;
}

/** What the settings show about the account; re-rendered when it changes. */
export function accountSection(app) {
  const accounts = app.accounts;
  const body = h('div', { class: 'account-body' });
  const render = () => {
    clear(body);
    const userid = accounts.userid;
    if (userid) {
      body.append(h('p', { class: 'account-id' }, h('span', { text: t('Your ID:') }), ' ', h('strong', { class: 'account-userid', text: userid })));
      if (accounts.mode === 'certificate') {
        body.append(h('p', { class: 'field-hint', text: t('You are signed in with a certificate. To sign out, remove the certificate from your browser.') }));
      } else if (accounts.mode === 'httpheader') {
        body.append(h('p', { class: 'field-hint', text: t('Your web server signed you in. Sign out there.') }));
      } else {
        body.append(h('button', {
          class: 'btn btn-small account-signout', type: 'button', on: { click: () => app.signOut() },
        }, icon('signOut'), h('span', { text: t('Sign out') })));
      }
    } else if (accounts.busy) {
      body.append(h('p', { class: 'field-hint', text: t('Signing in…') }));
    } else {
      body.append(h('p', { class: 'field-hint', text: accounts.external ? t('You are not signed in. This server signs people in through its web server or with certificates.')
        : t('You are not signed in.') }));
      const buttons = signInButtons(app);
      if (buttons.length) body.append(h('div', { class: 'button-row' }, buttons));
    }
  };
  render();
  const off = accounts.on('change', () => {
    if (!body.isConnected) {
      off();
      return;
    }
    render();
  });
  return h('section', { class: 'settings-section settings-account' }, h('h3', { text: t('Account') }), body);
}

/** The card on the welcome page when the room the person wants needs an account. */
export function accountGate(app, room, onSignedIn) {
  const accounts = app.accounts;
  const buttons = signInButtons(app, { onDone: onSignedIn });
  const text = room
    ? t('The room "%s" is only open to people who are signed in.', room)
    : t('Rooms on this server are only open to people who are signed in.');
  return h('div', { class: 'account-gate', role: 'alert' },
    h('div', { class: 'account-gate-icon' }, icon('lock')),
    h('h2', { class: 'account-gate-title', text: t('Please sign in') }),
    h('p', { class: 'account-gate-text', text }),
    buttons.length ? h('div', { class: 'button-row account-gate-buttons' }, buttons)
      : h('p', { class: 'field-hint', text: accounts.external
        ? t('This server signs people in through its web server or with certificates. Ask its administrator for access.')
        : t('Ask the administrator of this server for an account.') }));
}
