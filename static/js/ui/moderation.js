// Moderation in the page: the moderator's panel (lock, lobby, people, invite links, end meeting),
// knock cards for newcomers in the lobby, the "waiting in the lobby" screen, the lock mark in the
// room bar and the messages for denied, removed, asked to mute and meeting ended.

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';
import { INVITE_LIFETIMES, DEFAULT_INVITE_LIFETIME } from '../moderation.js';
import { toast, alertDialog, confirmDialog } from './dialogs.js';

const LIFETIME_LABEL = {
  3600: () => t('1 hour'),
  86400: () => t('24 hours'),
  604800: () => t('7 days'),
  2592000: () => t('30 days'),
};

function errorText(err) {
  switch (err && err.code) {
    case 'not_moderator': return t('You are not a moderator of this room any more.');
    case 'no_such_session': return t('That person is no longer here.');
    case 'not_in_room': return t('You are not in a room.');
    case 'disconnected': return t('The connection is interrupted. Try again in a moment.');
    default: return (err && err.message) || t('Unknown error');
  }
}

export class ModerationUI {
  constructor(app) {
    this.app = app;
    this.mod = app.moderation;
    this.open = false;
    this.knocks = new Map(); // lobby id -> card
    this.invite = null; // the last link made here: {url, expires}
    this.build();
    this.wire();
    this.render();
  }

  // ------------------------------------------------------------ building

  build() {
    const app = this.app;
    // the moderator's button sits with the tools (the room bar hides during a 1:1 call), with the
    // number of knocks; the lock mark is in the room bar for everyone
    this.count = h('span', { class: 'badge mod-count', hidden: true });
    const label = t('Moderation');
    this.button = h('button', {
      class: 'icon-btn tool-moderation', type: 'button', title: label, 'aria-label': label,
      'aria-expanded': 'false', 'aria-controls': 'moderation-panel', hidden: true,
    }, icon('shield'), this.count);
    this.button.addEventListener('click', () => this.toggle());
    app.shell.peopleBtn.before(this.button);
    this.lockChip = h('span', { class: 'room-lobby-locked', hidden: true, title: t('Newcomers wait in the lobby until a moderator lets them in.') },
      icon('lock'), h('span', { text: t('Locked') }));
    app.roomBar.info.append(this.lockChip);

    this.buildPanel();
    app.shell.workspace.append(this.panel);

    this.knockHost = h('div', { class: 'knocks', 'aria-live': 'assertive' });
    document.body.append(this.knockHost);

    this.buildWaiting();
    app.shell.stageSlot.append(this.waitingEl);
  }

  buildPanel() {
    const close = h('button', { class: 'icon-btn', type: 'button', title: t('Close'), 'aria-label': t('Close') }, icon('close'));
    close.addEventListener('click', () => this.toggle(false));

    this.lockBox = h('input', { type: 'checkbox', class: 'mod-lock-input' });
    this.lockBox.addEventListener('change', () => this.run(() => this.mod.lock(this.lockBox.checked)));
    const lockRow = h('label', { class: 'mod-switch' }, this.lockBox, h('span', { class: 'mod-switch-track', 'aria-hidden': 'true' }),
      h('span', { class: 'mod-switch-text' }, h('strong', { text: t('Lock the room') }),
        h('span', { class: 'mod-hint', text: t('Newcomers wait in the lobby until a moderator lets them in.') })));

    this.lobbyTitle = h('h3', { class: 'mod-heading' });
    this.lobbyList = h('ul', { class: 'mod-list mod-lobby', 'aria-label': t('Waiting in the lobby') });
    this.lobbyEmpty = h('p', { class: 'mod-empty mod-lobby-empty', text: t('No one is waiting.') });

    this.muteAll = h('button', { class: 'btn btn-small mod-mute-all', type: 'button' }, icon('micOff'), h('span', { text: t('Mute everyone') }));
    this.muteAll.addEventListener('click', () => this.run(() => this.mod.askMute(''), t('Everyone else was asked to mute.')));
    this.peopleList = h('ul', { class: 'mod-list mod-people', 'aria-label': t('People in this room') });
    this.peopleEmpty = h('p', { class: 'mod-empty', text: t('No one else here') });

    this.lifetime = h('select', { class: 'input mod-lifetime', 'aria-label': t('Valid for') },
      INVITE_LIFETIMES.map((s) => h('option', { value: String(s), text: LIFETIME_LABEL[s](), selected: s === DEFAULT_INVITE_LIFETIME })));
    const create = h('button', { class: 'btn btn-small btn-primary mod-invite-create', type: 'button' }, icon('link'), h('span', { text: t('Create invite link') }));
    create.addEventListener('click', () => this.createInvite());
    this.inviteField = h('input', { class: 'input mod-invite-url', readOnly: true, 'aria-label': t('Invite link') });
    this.inviteField.readOnly = true;
    this.inviteField.addEventListener('focus', () => this.inviteField.select());
    const copy = h('button', { class: 'btn btn-small mod-invite-copy', type: 'button' }, icon('copy'), h('span', { text: t('Copy') }));
    copy.addEventListener('click', () => this.copyInvite());
    this.inviteExpiry = h('p', { class: 'mod-hint mod-invite-expiry' });
    this.inviteResult = h('div', { class: 'mod-invite-result', hidden: true },
      h('div', { class: 'mod-row' }, this.inviteField, copy), this.inviteExpiry);
    const revoke = h('button', { class: 'btn btn-small btn-ghost mod-invite-revoke', type: 'button' }, icon('trash'), h('span', { text: t('Revoke all invite links') }));
    revoke.addEventListener('click', () => this.revokeInvites());

    const end = h('button', { class: 'btn btn-danger mod-end', type: 'button' }, icon('hangup'), h('span', { text: t('End meeting for everyone') }));
    end.addEventListener('click', () => this.endMeeting());

    this.panel = h('section', { class: 'mod-panel', id: 'moderation-panel', hidden: true, 'aria-label': t('Moderation') },
      h('div', { class: 'mod-head' }, icon('shield'), h('h2', { class: 'mod-title', text: t('Moderation') }), close),
      h('div', { class: 'mod-body' },
        h('section', { class: 'mod-section' }, lockRow),
        h('section', { class: 'mod-section' }, this.lobbyTitle, this.lobbyList, this.lobbyEmpty),
        h('section', { class: 'mod-section' },
          h('div', { class: 'mod-heading-row' }, h('h3', { class: 'mod-heading', text: t('People') }), this.muteAll),
          this.peopleList, this.peopleEmpty),
        h('section', { class: 'mod-section' },
          h('h3', { class: 'mod-heading', text: t('Invite links') }),
          h('p', { class: 'mod-hint', text: t('An invite link lets people in past the PIN and the lock.') }),
          h('div', { class: 'mod-row' }, this.lifetime, create),
          this.inviteResult, revoke),
        h('section', { class: 'mod-section mod-end-section' }, end)));
    this.panel.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        this.toggle(false);
        this.button.focus();
      }
    });
  }

  buildWaiting() {
    this.waitingRoom = h('h1', { class: 'lobby-room mod-waiting-room' });
    const leave = h('button', { class: 'btn mod-waiting-leave', type: 'button' }, icon('leave'), h('span', { text: t('Leave the lobby') }));
    leave.addEventListener('click', () => this.mod.cancelWaiting());
    this.waitingEl = h('div', { class: 'mod-waiting', hidden: true, role: 'status' },
      h('div', { class: 'lobby-card mod-waiting-card' },
        h('span', { class: 'mod-waiting-spinner', 'aria-hidden': 'true' }),
        h('p', { class: 'mod-waiting-title', text: t('Waiting to be let in') }),
        this.waitingRoom,
        h('p', { class: 'lobby-text', text: t('This room is locked. A moderator has been told that you are here and can let you in.') }),
        leave));
  }

  wire() {
    const { app, mod } = this;
    mod.on('change', () => this.render());
    app.buddies.on('change', () => {
      if (this.open) this.renderPeople();
    });
    mod.on('knock', (entry) => this.knock(entry));
    mod.on('promoted', () => {
      toast(t('You are now a moderator of this room.'), {
        kind: 'ok', timeout: 8000, action: { label: t('Moderation'), run: () => this.toggle(true) },
      });
    });
    mod.on('waiting', () => this.render());
    mod.on('admitted', () => toast(t('A moderator let you in.'), { kind: 'ok', timeout: 4000 }));
    mod.on('denied', ({ room }) => {
      app.sounds.play('prompt');
      alertDialog(t('Not let in'), t('A moderator did not let you into the room %s.', room || t('Default room')));
    });
    mod.on('removed', ({ room }) => {
      app.sounds.play('prompt');
      alertDialog(t('Removed from the room'),
        t('A moderator removed you from the room %s. You cannot come back for the next 10 minutes.', room || t('Default room')));
    });
    mod.on('ended', ({ room }) => {
      app.sounds.play('end');
      alertDialog(t('Meeting ended'), t('A moderator ended the meeting in the room %s.', room || t('Default room')));
    });
    mod.on('mute', () => {
      app.sounds.play('prompt');
      toast(t('A moderator asked you to mute. Your microphone is off; you can turn it on again.'), {
        kind: 'warn', timeout: 12000, action: { label: t('Unmute'), run: () => app.media.setAudioMuted(false) },
      });
    });
    mod.on('stream-muted', () => {
      app.sounds.play('prompt');
      toast(t('A moderator muted your microphone for everyone.'), { kind: 'warn', timeout: 12000 });
    });
    mod.on('banned', ({ room }) => {
      toast(t('You were removed from the room %s and cannot come back yet. Try again later.', room || t('Default room')), { kind: 'error', timeout: 12000 });
    });
    mod.on('locked-out', ({ room }) => {
      toast(t('The room %s is locked. Ask a moderator for an invite link.', room || t('Default room')), { kind: 'error', timeout: 12000 });
    });
    mod.on('invite-dropped', () => {
      toast(t('This invite link is no longer valid. Asking to join the ordinary way.'), { kind: 'warn', timeout: 10000 });
    });
  }

  // ------------------------------------------------------------ rendering

  render() {
    const mod = this.mod;
    const isMod = mod.isModerator && !!this.app.rooms.current;
    document.body.classList.toggle('is-moderator', isMod);
    document.body.dataset.moderation = mod.supported && mod.state ? mod.role : '';
    show(this.button, isMod);
    show(this.lockChip, !!this.app.rooms.current && mod.locked);
    const n = mod.lobby.length;
    setText(this.count, String(n));
    show(this.count, isMod && n > 0);
    if (!isMod && this.open) this.toggle(false);
    if (this.open) this.renderPanel();
    this.syncKnocks();
    const waiting = mod.waiting;
    show(this.waitingEl, !!waiting);
    document.body.classList.toggle('in-lobby', !!waiting);
    if (waiting) setText(this.waitingRoom, waiting.room || t('Default room'));
  }

  toggle(open = !this.open) {
    if (open && !this.mod.isModerator) return;
    this.open = open;
    show(this.panel, open);
    this.button.setAttribute('aria-expanded', String(open));
    this.button.classList.toggle('active', open);
    if (open) {
      if (this.app.shell.phone) this.app.shell.closeSide();
      this.renderPanel();
    }
  }

  renderPanel() {
    const mod = this.mod;
    this.lockBox.checked = mod.locked;
    const lobby = mod.lobby;
    setText(this.lobbyTitle, t('Waiting in the lobby (%s)', lobby.length));
    clear(this.lobbyList);
    for (const entry of lobby) this.lobbyList.append(this.lobbyItem(entry));
    show(this.lobbyEmpty, lobby.length === 0);
    this.renderPeople();
  }

  knockName(entry) {
    return entry.name || (entry.userid ? entry.userid : t('Someone'));
  }

  lobbyItem(entry) {
    const name = this.knockName(entry);
    return h('li', { class: 'mod-item', dataset: { id: entry.id } },
      h('span', { class: 'mod-item-name', text: name, title: entry.userid ? t('Signed in as %s', entry.userid) : name }),
      h('span', { class: 'mod-item-actions' }, ...this.admitDeny(entry, name)));
  }

  admitDeny(entry, name) {
    const admit = h('button', { class: 'btn btn-small btn-accept mod-admit', type: 'button', 'aria-label': t('Admit %s', name) }, icon('check'), h('span', { text: t('Admit') }));
    const deny = h('button', { class: 'btn btn-small mod-deny', type: 'button', 'aria-label': t('Deny %s', name) }, icon('close'), h('span', { text: t('Deny') }));
    admit.addEventListener('click', () => this.run(() => this.mod.admit(entry.id)));
    deny.addEventListener('click', () => this.run(() => this.mod.deny(entry.id)));
    return [admit, deny];
  }

  renderPeople() {
    const app = this.app;
    const mod = this.mod;
    clear(this.peopleList);
    const people = app.buddies.sorted();
    for (const buddy of people) {
      const id = buddy.id;
      const name = app.buddies.name(id);
      const isMod = mod.isModeratorId(id);
      const mute = this.iconAction('micOff', t('Ask %s to mute', name), 'mod-mute',
        () => this.run(() => this.mod.askMute(id), t('%s was asked to mute.', name)));
      const promote = this.iconAction('shield', t('Make %s a moderator', name), 'mod-promote', () => this.handover(id, name));
      const remove = this.iconAction('leave', t('Remove %s from the room', name), 'mod-remove danger', () => this.remove(id, name));
      promote.hidden = isMod;
      const silenced = mod.streamMuted.has(id);
      const hard = app.sfu.active && this.iconAction(silenced ? 'mic' : 'micOff',
        silenced ? t('Unmute %s for everyone', name) : t('Mute %s for everyone', name), 'mod-mute-stream',
        () => this.run(() => this.mod.muteStream(id, !silenced),
          silenced ? t('%s can be heard again.', name) : t('%s is muted for everyone.', name)));
      this.peopleList.append(h('li', { class: 'mod-item', dataset: { id } },
        h('span', { class: 'mod-item-name', text: name }),
        isMod && h('span', { class: 'mod-tag', text: t('Moderator') }),
        h('span', { class: 'mod-item-actions' }, mute, hard, promote, remove)));
    }
    show(this.peopleEmpty, people.length === 0);
    this.muteAll.disabled = people.length === 0;
  }

  iconAction(name, label, cls, run) {
    const btn = h('button', { class: `icon-btn ${cls}`, type: 'button', title: label, 'aria-label': label }, icon(name));
    btn.addEventListener('click', run);
    return btn;
  }

  // ------------------------------------------------------------ knocks

  knock(entry) {
    const app = this.app;
    if (this.knocks.has(entry.id)) return;
    const name = this.knockName(entry);
    const dismiss = h('button', { class: 'icon-btn knock-close', type: 'button', title: t('Dismiss'), 'aria-label': t('Dismiss') }, icon('close'));
    const card = h('div', { class: 'knock', dataset: { id: entry.id } },
      h('div', { class: 'knock-text' }, icon('bell'), h('span', { text: t('%s is waiting in the lobby.', name) })),
      h('div', { class: 'knock-actions' }, ...this.admitDeny(entry, name), dismiss));
    dismiss.addEventListener('click', () => this.dropKnock(entry.id));
    this.knocks.set(entry.id, card);
    this.knockHost.append(card);
    app.sounds.play('joined');
    app.notifier.show(t('Someone is waiting in the lobby'), { body: t('%s is waiting in the lobby.', name), tag: `spreed-knock-${entry.id}` });
  }

  dropKnock(id) {
    const card = this.knocks.get(id);
    if (card) card.remove();
    this.knocks.delete(id);
  }

  /** Knock cards stay only for sessions still waiting, and only while we moderate. */
  syncKnocks() {
    const waiting = new Set(this.mod.isModerator ? this.mod.lobby.map((e) => e.id) : []);
    for (const id of [...this.knocks.keys()]) if (!waiting.has(id)) this.dropKnock(id);
  }

  // ------------------------------------------------------------ actions

  async run(action, done = '') {
    try {
      await action();
      if (done) toast(done, { kind: 'ok', timeout: 3500 });
      return true;
    } catch (err) {
      toast(t('The moderator action failed: %s', errorText(err)), { kind: 'error', timeout: 8000 });
      this.render();
      return false;
    }
  }

  async remove(id, name) {
    const ok = await confirmDialog(t('Remove %s?', name),
      t('%s leaves the room, their calls end and they cannot come back for 10 minutes.', name), { ok: t('Remove') });
    // with a call, its end says so already (app.js, Bye "removed")
    const said = this.app.calls.get(id) ? '' : t('%s was removed from the room.', name);
    if (ok) await this.run(() => this.mod.remove(id), said);
  }

  async handover(id, name) {
    const ok = await confirmDialog(t('Make %s a moderator?', name),
      t('%s becomes a moderator of this room, and you a participant.', name), { ok: t('Make moderator') });
    if (ok) await this.run(() => this.mod.handover(id));
  }

  async endMeeting() {
    const ok = await confirmDialog(t('End the meeting?'),
      t('Everyone leaves the room and their calls end. The lock and the lobby are cleared.'), { ok: t('End meeting') });
    if (ok) await this.run(() => this.mod.end());
  }

  async createInvite() {
    const seconds = Number(this.lifetime.value) || DEFAULT_INVITE_LIFETIME;
    try {
      this.invite = await this.mod.createInvite(seconds);
    } catch (err) {
      toast(t('The moderator action failed: %s', errorText(err)), { kind: 'error', timeout: 8000 });
      return;
    }
    this.inviteField.value = this.invite.url;
    const until = this.invite.expires ? new Date(this.invite.expires * 1000) : null;
    setText(this.inviteExpiry, until ? t('Valid until %s', until.toLocaleString()) : '');
    show(this.inviteResult, true);
    this.inviteField.focus();
  }

  async copyInvite() {
    if (!this.invite) return;
    try {
      await navigator.clipboard.writeText(this.invite.url);
      toast(t('Invite link copied.'), { kind: 'ok', timeout: 3500 });
    } catch {
      this.inviteField.focus();
      this.inviteField.select();
      toast(t('Copy this link: %s', this.invite.url), { kind: 'info', timeout: 15000 });
    }
  }

  async revokeInvites() {
    const ok = await confirmDialog(t('Revoke all invite links?'),
      t('Every invite link made so far for this room stops working. People already in the room stay.'), { ok: t('Revoke') });
    if (!ok) return;
    if (await this.run(() => this.mod.revokeInvites(), t('All invite links were revoked.'))) {
      this.invite = null;
      this.inviteField.value = '';
      show(this.inviteResult, false);
    }
  }
}
