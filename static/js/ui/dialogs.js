// Modal dialogs (alert, confirm, prompt, custom) on <dialog>, and the toast stack.

import { h } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';

let toastHost = null;

function host() {
  if (!toastHost) {
    toastHost = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(toastHost);
  }
  return toastHost;
}

/** A short message in the corner. kind: info, warn, error, ok. Returns a function to remove it. */
export function toast(text, { kind = 'info', timeout = 7000, action = null } = {}) {
  const close = () => {
    node.classList.add('leaving');
    setTimeout(() => node.remove(), 200);
  };
  const node = h('div', { class: `toast toast-${kind}`, dataset: { kind } },
    h('span', { class: 'toast-text', text }),
    action && h('button', { class: 'btn btn-small', type: 'button', text: action.label, on: { click: () => { close(); action.run(); } } }),
    h('button', { class: 'icon-btn toast-close', type: 'button', 'aria-label': t('Close'), title: t('Close'), on: { click: close } }, icon('close')));
  host().append(node);
  if (timeout) setTimeout(close, timeout);
  return close;
}

/**
 * A modal dialog. build(close) returns the body nodes; buttons: [{label, value, kind, submit}].
 * Resolves with the value of the button pressed (undefined for Escape).
 */
export function modal({ title, body = [], buttons = [], className = '', onOpen = null, form = true }) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: `modal ${className}`, 'aria-label': title });
    let result;
    const done = (value) => {
      result = value;
      dialog.close();
    };
    const footer = h('div', { class: 'modal-buttons' },
      buttons.map((b) => h('button', {
        class: `btn ${b.kind ? `btn-${b.kind}` : ''}`,
        type: b.submit ? 'submit' : 'button',
        dataset: { value: String(b.value) },
        text: b.label,
        on: b.submit ? null : { click: () => done(typeof b.value === 'function' ? b.value() : b.value) },
      })));
    const content = form ? h('form', { method: 'dialog', class: 'modal-form' }) : h('div', { class: 'modal-form' });
    content.append(h('h2', { class: 'modal-title', text: title }), ...[body].flat(Infinity).filter(Boolean), footer);
    if (form) {
      content.addEventListener('submit', (ev) => {
        ev.preventDefault();
        const submit = buttons.find((b) => b.submit);
        done(submit && (typeof submit.value === 'function' ? submit.value() : submit.value));
      });
    }
    dialog.append(content);
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
    if (onOpen) onOpen(dialog, done);
  });
}

export function alertDialog(title, text) {
  return modal({ title, body: [h('p', { text })], buttons: [{ label: t('OK'), value: true, kind: 'primary', submit: true }] });
}

export async function confirmDialog(title, text, { ok = t('OK'), cancel = t('Cancel') } = {}) {
  const value = await modal({
    title, body: [h('p', { text })],
    buttons: [{ label: cancel, value: false }, { label: ok, value: true, kind: 'primary', submit: true }],
  });
  return value === true;
}

/** Ask for a line of text; resolves with the text, or null when cancelled. */
export async function promptDialog(title, text, { value = '', placeholder = '', type = 'text', ok = t('OK'), error = '', className = '' } = {}) {
  const input = h('input', { class: 'input', type, value, placeholder, autocomplete: 'off', 'aria-label': title });
  const value2 = await modal({
    title,
    className,
    body: [text && h('p', { text }), error && h('p', { class: 'form-error', role: 'alert', text: error }), input],
    buttons: [{ label: t('Cancel'), value: null }, { label: ok, value: () => input.value, kind: 'primary', submit: true }],
    onOpen: () => input.focus(),
  });
  return value2 === undefined ? null : value2;
}
