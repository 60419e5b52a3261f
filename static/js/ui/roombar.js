// The room bar: current room, invite (copy link, share, e-mail), PIN lock, change and leave.

import { h, setText, show } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';
import { roomURL } from '../config.js';
import { modal, promptDialog, toast } from './dialogs.js';

const NAME_MAX = 100;

function labelled(name, label, cls) {
  return h('button', { class: `btn btn-ghost btn-small ${cls}`, type: 'button', title: label, 'aria-label': label },
    icon(name), h('span', { class: 'btn-label', text: label }));
}

export class RoomBar {
  constructor(app, slot) {
    this.app = app;
    this.slot = slot;
    this.build();
  }

  build() {
    const app = this.app;
    this.name = h('strong', { class: 'room-name', id: 'room-name' });
    this.lockMark = h('span', { class: 'room-locked', title: t('This room is protected with a PIN'), hidden: true }, icon('lock'));
    this.typeMark = h('span', { class: 'room-type', hidden: true, text: t('Conference room') });
    this.inviteBtn = labelled('link', t('Invite'), 'room-invite');
    this.pinBtn = labelled('lock', t('PIN'), 'room-pin');
    this.changeBtn = labelled('edit', t('Change room'), 'room-change-btn');
    this.leaveBtn = labelled('leave', t('Leave room'), 'room-leave');
    this.inviteBtn.addEventListener('click', () => this.invite());
    this.pinBtn.addEventListener('click', () => this.pinDialog());
    this.changeBtn.addEventListener('click', () => this.toggleChange(true));
    this.leaveBtn.addEventListener('click', () => app.leaveRoom());

    this.input = h('input', { class: 'input room-input', type: 'text', maxLength: NAME_MAX, placeholder: t('Room name'), 'aria-label': t('New room name'), autocomplete: 'off' });
    const go = h('button', { class: 'btn btn-primary btn-small', type: 'submit', text: t('Go') });
    const cancel = h('button', { class: 'btn btn-small', type: 'button', text: t('Cancel') });
    cancel.addEventListener('click', () => this.toggleChange(false));
    this.form = h('form', { class: 'room-change', hidden: true }, this.input, go, cancel);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const name = this.input.value.trim();
      this.toggleChange(false);
      if (name !== (app.rooms.name || '')) app.rooms.join(name);
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.toggleChange(false);
    });
    this.info = h('div', { class: 'room-info' },
      h('span', { class: 'room-label', text: t('Room') }), this.name, this.lockMark, this.typeMark);
    this.actions = h('div', { class: 'room-actions' }, this.inviteBtn, this.pinBtn, this.changeBtn, this.leaveBtn);
    this.el = h('div', { class: 'roombar', hidden: true }, this.info, this.actions, this.form);
    this.slot.append(this.el);
  }

  render() {
    const rooms = this.app.rooms;
    const inRoom = !!rooms.current;
    show(this.el, inRoom && !this.app.hideRoomBar());
    if (!inRoom) return;
    setText(this.name, rooms.name || t('Default room'));
    const locked = rooms.hasPin();
    show(this.lockMark, locked);
    show(this.typeMark, rooms.isConference);
    this.pinBtn.replaceChild(icon(locked ? 'lock' : 'unlock'), this.pinBtn.firstChild);
    this.pinBtn.classList.toggle('active', locked);
  }

  toggleChange(open) {
    show(this.form, open);
    show(this.info, !open);
    show(this.actions, !open);
    if (open) {
      this.input.value = this.app.rooms.name || '';
      this.input.focus();
      this.input.select();
    }
  }

  async invite() {
    const name = this.app.rooms.name || '';
    const url = roomURL(name);
    const field = h('input', { class: 'input', readOnly: true, value: url, 'aria-label': t('Room link') });
    field.readOnly = true;
    const copy = h('button', { class: 'btn', type: 'button' }, icon('copy'), h('span', { text: t('Copy link') }));
    copy.addEventListener('click', () => this.app.copyRoomLink());
    const mail = h('a', {
      class: 'btn', href: `mailto:?subject=${encodeURIComponent(t('Meet with me'))}&body=${encodeURIComponent(`${t('Meet with me here:')} ${url}`)}`,
    }, icon('mail'), h('span', { text: t('E-mail') }));
    const share = navigator.share && h('button', { class: 'btn', type: 'button' }, icon('share'), h('span', { text: t('Share…') }));
    if (share) {
      share.addEventListener('click', () => {
        navigator.share({ title: name || t('Default room'), text: t('Meet with me here:'), url }).catch(() => {});
      });
    }
    await modal({
      title: t('Invite people'),
      body: [h('p', { text: t('Anyone with this link can join the room:') }), field, h('div', { class: 'button-row' }, copy, share, mail)],
      buttons: [{ label: t('Close'), value: true, kind: 'primary', submit: true }],
      onOpen: () => field.select(),
    });
  }

  async pinDialog() {
    const rooms = this.app.rooms;
    if (!rooms.current) return;
    const locked = rooms.hasPin();
    const title = locked ? t('Room PIN') : t('Protect this room with a PIN');
    const text = locked
      ? t('Everyone who joins needs this PIN. Set a new PIN or remove it.')
      : t('People joining this room later will have to enter the PIN.');
    const input = h('input', { class: 'input', type: 'text', value: locked ? rooms.pins.get(rooms.name) : '', placeholder: t('PIN'), autocomplete: 'off', 'aria-label': t('PIN') });
    const buttons = [{ label: t('Cancel'), value: null }];
    if (locked) buttons.push({ label: t('Remove PIN'), value: '', kind: 'danger' });
    buttons.push({ label: t('Set PIN'), value: () => input.value.trim() || null, kind: 'primary', submit: true });
    const pin = await modal({ title, body: [h('p', { text }), input], buttons, onOpen: () => input.focus(), className: 'pin-dialog' });
    if (pin === null || pin === undefined) return;
    try {
      await rooms.setPin(pin);
    } catch (err) {
      toast(t('Could not change the PIN: %s', err.message), { kind: 'error' });
    }
  }

  /** The PIN prompt for joining a locked room; resolves with the PIN or null (cancel). */
  static askPin(name, wrong) {
    return promptDialog(t('PIN required'), t('Enter the PIN for room %s', name || t('Default room')), {
      type: 'password', error: wrong ? t('Wrong PIN, please try again.') : '', ok: t('Join'), className: 'pin-prompt',
    });
  }
}
