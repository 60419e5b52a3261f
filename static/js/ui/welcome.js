// The welcome page: pick or make up a room name when there is no room to be in.

import { h, setText, show, clear } from '../dom.js';
import { icon, logo } from '../icons.js';
import { t } from '../i18n.js';
import { cfg, roomURL } from '../config.js';
import { openConnectionCheck } from './check.js';
import { accountGate, signInButtons } from './account.js';

const NAME_MAX = 30;

export class Welcome {
  constructor(app, slot) {
    this.app = app;
    this.slot = slot;
    this.random = '';
    this.build();
  }

  build() {
    this.input = h('input', {
      class: 'input input-big welcome-input', type: 'text', maxLength: NAME_MAX, autocomplete: 'off',
      'aria-label': t('Room name'), placeholder: t('Enter a room name'), spellcheck: 'false',
    });
    this.input.maxLength = NAME_MAX;
    const refresh = h('button', { class: 'icon-btn welcome-refresh', type: 'button', title: t('Another random name'), 'aria-label': t('Another random name') }, icon('refresh'));
    refresh.addEventListener('click', () => this.newRandom());
    this.link = h('span', { class: 'welcome-link' });
    this.history = h('div', { class: 'welcome-history' });
    this.hint = h('p', { class: 'welcome-hint', hidden: true });
    const enter = h('button', { class: 'btn btn-primary btn-big', type: 'submit' }, icon('enter'), h('span', { text: t('Enter room') }));
    const form = h('form', { class: 'welcome-form' },
      h('div', { class: 'welcome-row' }, this.input, refresh), enter);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = this.input.value.trim() || this.random;
      if (name) this.app.rooms.join(name);
    });
    this.input.addEventListener('input', () => this.updateLink());
    this.gate = h('div', { class: 'welcome-gate', hidden: true });
    this.signIn = h('div', { class: 'button-row welcome-signin', hidden: true });
    const check = h('button', { class: 'btn btn-ghost welcome-check', type: 'button' }, icon('pulse'), h('span', { text: t('Check camera, microphone and connection') }));
    check.addEventListener('click', () => openConnectionCheck(this.app));
    this.el = h('div', { class: 'welcome' },
      this.gate,
      h('div', { class: 'welcome-card' },
        h('div', { class: 'welcome-logo' }, logo()),
        h('h1', { class: 'welcome-title', text: t('Welcome to %s', cfg.Title || 'Spreed WebRTC') }),
        h('p', { class: 'welcome-sub', text: t('Meet in a room: choose a name, or take the one suggested, and share the link.') }),
        form,
        h('p', { class: 'welcome-linkline' }, h('span', { text: t('Room link:') }), ' ', this.link),
        this.hint,
        this.signIn,
        this.history,
        h('div', { class: 'welcome-tools' }, check)));
    this.slot.append(this.el);
  }

  async show() {
    const rooms = this.app.rooms;
    clear(this.history);
    const past = rooms.history.slice(0, 15);
    if (past.length) {
      this.history.append(h('span', { class: 'welcome-history-label', text: t('Recent rooms:') }));
      for (const name of past) {
        const chip = h('button', { class: 'chip', type: 'button', text: name || t('Default room') });
        chip.addEventListener('click', () => rooms.join(name));
        this.history.append(chip);
      }
    }
    this.renderAccount();
    if (!this.random) await this.newRandom();
    this.updateLink();
    setTimeout(() => this.input.focus(), 0);
  }

  /** The sign-in card for a room that needs an account, and the hint when rooms need one. */
  renderAccount() {
    const app = this.app;
    const gate = app.accountGate;
    const signedIn = app.accounts.signedIn;
    clear(this.gate);
    if (gate && !signedIn) this.gate.append(accountGate(app, gate.room, () => app.retryGatedRoom()));
    show(this.gate, !!gate && !signedIn);
    const needs = !signedIn && (cfg.AuthorizeRoomJoin || cfg.AuthorizeRoomCreation);
    setText(this.hint, cfg.AuthorizeRoomJoin ? t('Please sign in to join rooms.') : t('Please sign in to create rooms.'));
    show(this.hint, needs && !gate);
    clear(this.signIn);
    if (needs && !gate) this.signIn.append(...signInButtons(app));
    show(this.signIn, needs && !gate && this.signIn.childElementCount > 0);
  }

  async newRandom() {
    try {
      this.random = await this.app.rooms.randomName();
    } catch {
      this.random = '';
    }
    this.input.placeholder = this.random || t('Enter a room name');
    this.updateLink();
  }

  updateLink() {
    const name = this.input.value.trim() || this.random;
    setText(this.link, name ? roomURL(name) : '');
  }
}
