// The people list: everyone else in the room with picture, name, status line and actions.

import { h, setText, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';
import { Buddies } from '../buddies.js';

export class BuddyList {
  constructor(app, slot) {
    this.app = app;
    this.slot = slot;
    this.items = new Map();
    this.list = h('ul', { class: 'buddies', id: 'buddylist', 'aria-label': t('People in this room') });
    this.empty = h('p', { class: 'empty', text: t('No one else here') });
    this.me = h('div', { class: 'me' });
    this.slot.append(this.me, this.list, this.empty);
  }

  render() {
    const app = this.app;
    const buddies = app.buddies;
    this.renderMe();
    const sorted = buddies.sorted();
    const seen = new Set();
    let index = 0;
    for (const buddy of sorted) {
      seen.add(buddy.id);
      let item = this.items.get(buddy.id);
      if (!item) {
        item = this.makeItem(buddy.id);
        this.items.set(buddy.id, item);
      }
      this.updateItem(item, buddy);
      if (this.list.children[index] !== item.el) this.list.insertBefore(item.el, this.list.children[index] || null);
      index += 1;
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.el.remove();
        this.items.delete(id);
      }
    }
    this.empty.hidden = sorted.length > 0 || !app.rooms.current;
  }

  renderMe() {
    const app = this.app;
    const name = app.profile.get('name') || t('Me');
    const pic = app.profile.get('picture') ? app.buddies.pictureURL(app.profile.get('picture')) : '';
    clear(this.me).append(
      pic ? h('img', { class: 'avatar', src: pic, alt: '' }) : h('span', { class: 'avatar avatar-empty' }, icon('user')),
      h('div', { class: 'buddy-text' },
        h('span', { class: 'buddy-name', text: name }),
        h('span', { class: 'buddy-msg', text: app.profile.get('message') || t('This is you') }),
        app.accounts.userid && h('span', { class: 'me-account', title: app.accounts.userid }, icon('key'), h('span', { text: t('Signed in as %s', app.accounts.userid) }))),
      h('button', { class: 'icon-btn', type: 'button', title: t('Edit your profile'), 'aria-label': t('Edit your profile'), on: { click: () => app.openSettings() } }, icon('edit')));
  }

  makeItem(id) {
    const app = this.app;
    const pic = h('span', { class: 'buddy-pic' });
    const name = h('span', { class: 'buddy-name' });
    const msg = h('span', { class: 'buddy-msg' });
    const callBtn = h('button', { class: 'icon-btn buddy-call', type: 'button' }, icon('phone'));
    const chatBtn = h('button', { class: 'icon-btn buddy-chat', type: 'button', title: t('Start chat'), 'aria-label': t('Start chat') }, icon('chat'));
    callBtn.addEventListener('click', (ev) => {
      ev.stopPropagation();
      app.startCall(id);
    });
    chatBtn.addEventListener('click', (ev) => {
      ev.stopPropagation();
      app.openChat(id);
    });
    const el = h('li', { class: 'buddy', dataset: { id } }, pic,
      h('div', { class: 'buddy-text' }, name, msg),
      h('div', { class: 'buddy-actions' }, callBtn, chatBtn));
    el.addEventListener('click', () => app.openChat(id));
    return { el, pic, name, msg, callBtn, picURL: null };
  }

  updateItem(item, buddy) {
    const app = this.app;
    const name = app.buddies.name(buddy.id);
    setText(item.name, name);
    const full = app.buddies.message(buddy.id);
    setText(item.msg, Buddies.shortMessage(full));
    item.msg.title = full;
    const url = app.buddies.pictureOf(buddy.id);
    if (item.picURL !== url) {
      item.picURL = url;
      clear(item.pic).append(url ? h('img', { class: 'avatar', src: url, alt: '' }) : h('span', { class: 'avatar avatar-empty' }, icon('user')));
    }
    const call = app.calls.get(buddy.id);
    const inCall = app.calls.size > 0;
    const hideCall = app.rooms.isConference;
    item.callBtn.hidden = hideCall || !!call;
    const label = inCall ? t('Add %s to the call', name) : t('Call %s', name);
    item.callBtn.title = label;
    item.callBtn.setAttribute('aria-label', label);
    item.el.classList.toggle('in-call', !!call && call.state === 'connected');
  }
}
