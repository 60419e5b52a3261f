// The chat pane: conversation tabs (room + private), messages rendered as text with links,
// delivery states, typing hint and the compose box.

import { h, setText, show, clear, linkify } from '../dom.js';
import { icon } from '../icons.js';
import { t, N_, formatTime } from '../i18n.js';
import { ROOM, MESSAGE_MAX } from '../chat.js';
import { fileCard } from './filecard.js';
import { toast } from './dialogs.js';

const STATE_LABEL = {
  sending: N_('Sending'), sent: N_('Sent'), delivered: N_('Delivered'), seen: N_('Seen'),
};
const STATE_ICON = {
  sending: 'clock', sent: 'check', delivered: 'checks', seen: 'checks',
};
const GROUP_GAP = 61000;

export class ChatPanel {
  constructor(app, slot) {
    this.app = app;
    this.slot = slot;
    this.active = ROOM;
    this.tabs = new Map();
    this.nodes = new Map(); // message object -> element (for state updates)
    this.build();
  }

  build() {
    const app = this.app;
    this.tabBar = h('div', { class: 'chat-tabs', role: 'tablist', 'aria-label': t('Conversations') });
    this.title = h('span', { class: 'chat-title' });
    this.p2p = h('span', { class: 'chat-p2p', title: t('Messages go directly to your call partner'), hidden: true, text: t('⇄ peer to peer') });
    this.callBtn = h('button', { class: 'icon-btn chat-call', type: 'button', title: t('Call'), 'aria-label': t('Call'), hidden: true }, icon('phone'));
    this.callBtn.addEventListener('click', () => app.startCall(this.active));
    this.closeBtn = h('button', { class: 'icon-btn chat-close', type: 'button', title: t('Close conversation'), 'aria-label': t('Close conversation'), hidden: true }, icon('close'));
    this.closeBtn.addEventListener('click', () => {
      const key = this.active;
      this.select(ROOM);
      app.chat.close(key);
    });
    this.messages = h('ol', { class: 'chat-messages', id: 'chat-messages', 'aria-live': 'polite' });
    this.typingHint = h('div', { class: 'chat-typing', 'aria-live': 'polite' });
    this.input = h('textarea', { class: 'input chat-input', rows: '1', maxLength: MESSAGE_MAX, placeholder: t('Write a message'), 'aria-label': t('Message') });
    const send = h('button', { class: 'icon-btn chat-send', type: 'submit', title: t('Send'), 'aria-label': t('Send') }, icon('send'));
    this.fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden chat-file-input', tabindex: '-1', 'aria-hidden': 'true' });
    this.fileInput.addEventListener('change', () => {
      const files = [...(this.fileInput.files || [])];
      this.fileInput.value = '';
      this.shareFiles(files);
    });
    this.attachBtn = h('button', { class: 'icon-btn chat-attach', type: 'button', title: t('Share files'), 'aria-label': t('Share files') }, icon('attach'));
    this.attachBtn.addEventListener('click', () => this.fileInput.click());
    this.form = h('form', { class: 'chat-compose' }, this.attachBtn, this.fileInput, this.input, send);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.sendCurrent();
    });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        this.sendCurrent();
      }
    });
    this.input.addEventListener('input', () => {
      this.autosize();
      if (this.input.value) app.chat.typing(this.active);
    });
    this.dropHint = h('div', { class: 'chat-drop', 'aria-hidden': 'true' }, icon('upload'), h('span', { class: 'chat-drop-text' }));
    this.el = h('div', { class: 'chat' }, this.tabBar,
      h('div', { class: 'chat-head' }, this.title, this.p2p, this.callBtn, this.closeBtn),
      this.messages, this.typingHint, this.form, this.dropHint);
    this.setupDrop();
    // reading a conversation (pointer, touch, focus or typing in it) reports its messages as seen
    const seen = () => this.seen();
    for (const ev of ['pointerenter', 'pointerdown', 'focusin', 'keydown', 'wheel']) this.el.addEventListener(ev, seen, { passive: true });
    let last = 0;
    this.el.addEventListener('pointermove', () => {
      const now = Date.now();
      if (now - last > 500) {
        last = now;
        seen();
      }
    }, { passive: true });
    this.slot.append(this.el);

    const chat = app.chat;
    chat.on('opened', () => this.renderTabs());
    chat.on('closed', () => this.renderTabs());
    chat.on('reset', () => this.render());
    chat.on('message', (conv, msg) => {
      if (conv.key === this.active) {
        this.appendMessage(conv, msg);
        if (!msg.own && this.visible() && document.hasFocus()) this.seen();
      }
      this.renderTabs();
    });
    chat.on('presence', (conv) => {
      if (conv.key === this.active) this.render();
    });
    chat.on('state', (conv, msg) => this.updateState(msg));
    chat.on('typing', (conv) => {
      if (conv.key === this.active) this.renderTyping();
    });
    chat.on('unread', () => this.renderTabs());
  }

  /** Drag and drop of files onto the chat shares them in the open conversation. */
  setupDrop() {
    let depth = 0;
    const hasFiles = (ev) => !!ev.dataTransfer && [...(ev.dataTransfer.types || [])].includes('Files');
    const leave = () => {
      depth = 0;
      this.el.classList.remove('dropping');
    };
    this.el.addEventListener('dragenter', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      depth += 1;
      setText(this.dropHint.lastChild, this.active === ROOM ? t('Drop files to share them with the room')
        : t('Drop files to share them with %s', this.app.buddies.name(this.active)));
      this.el.classList.add('dropping');
    });
    this.el.addEventListener('dragover', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = 'copy';
    });
    this.el.addEventListener('dragleave', () => {
      depth -= 1;
      if (depth <= 0) leave();
    });
    this.el.addEventListener('drop', (ev) => {
      if (!hasFiles(ev)) return;
      ev.preventDefault();
      leave();
      this.shareFiles([...(ev.dataTransfer.files || [])]);
    });
  }

  /** Offer files in the open conversation (the room, or one person). */
  shareFiles(files) {
    const app = this.app;
    if (!files.length) return;
    const conv = app.chat.conversation(this.active);
    if (this.active !== ROOM && !conv.online) {
      toast(t('%s is offline', app.buddies.name(this.active)), { kind: 'warn' });
      return;
    }
    if (this.active === ROOM && !app.rooms.current) return;
    for (const file of files) {
      if (!(file instanceof File)) continue;
      const info = app.files.share(file);
      app.chat.sendFile(this.active, info);
    }
  }

  visible() {
    return this.app.shell.chatVisible() && document.visibilityState === 'visible';
  }

  seen() {
    if (this.visible()) this.app.chat.markSeen(this.active);
  }

  select(key) {
    this.app.chat.conversation(key);
    this.active = key;
    this.render();
    if (this.visible()) this.app.chat.markSeen(key);
  }

  sendCurrent() {
    const text = this.input.value;
    if (!text.trim()) return;
    const conv = this.app.chat.conversation(this.active);
    if (this.active !== ROOM && !conv.online) return;
    this.app.chat.markSeen(this.active);
    this.app.chat.send(this.active, text);
    this.input.value = '';
    this.autosize();
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
  }

  // ------------------------------------------------------------ rendering

  renderTabs() {
    const app = this.app;
    const keys = [...app.chat.conversations.keys()];
    for (const [key, tab] of this.tabs) {
      if (!app.chat.conversations.has(key)) {
        tab.el.remove();
        this.tabs.delete(key);
      }
    }
    keys.forEach((key, i) => {
      let tab = this.tabs.get(key);
      if (!tab) {
        const label = h('span', { class: 'chat-tab-label' });
        const badge = h('span', { class: 'badge', hidden: true });
        const el = h('button', { class: 'chat-tab', type: 'button', role: 'tab', dataset: { key } }, label, badge);
        el.addEventListener('click', () => this.select(key));
        tab = { el, label, badge };
        this.tabs.set(key, tab);
      }
      if (this.tabBar.children[i] !== tab.el) this.tabBar.insertBefore(tab.el, this.tabBar.children[i] || null);
      const conv = app.chat.conversations.get(key);
      setText(tab.label, key === ROOM ? t('Room') : app.buddies.name(key));
      tab.el.classList.toggle('active', key === this.active);
      tab.el.classList.toggle('offline', key !== ROOM && !conv.online);
      tab.el.setAttribute('aria-selected', String(key === this.active));
      setText(tab.badge, conv.unread ? String(conv.unread) : '');
      show(tab.badge, conv.unread > 0 && !(key === this.active && this.visible()));
    });
    if (!app.chat.conversations.has(this.active)) this.select(ROOM);
    app.updateCounts();
  }

  render() {
    const app = this.app;
    const conv = app.chat.conversation(this.active);
    this.renderTabs();
    const isRoom = this.active === ROOM;
    setText(this.title, isRoom ? t('Room chat') : t('Chat with %s', app.buddies.name(this.active)));
    show(this.closeBtn, !isRoom);
    show(this.callBtn, !isRoom && conv.online && !app.calls.get(this.active) && !app.rooms.isConference);
    show(this.p2p, !isRoom && app.calls.channelOpen(this.active));
    clear(this.messages);
    this.nodes.clear();
    this.lastFrom = null;
    this.lastTime = 0;
    if (!conv.messages.length) {
      this.messages.append(h('li', { class: 'msg-empty', text: isRoom ? t('Messages here go to everyone in the room.') : t('Messages here go only to %s.', app.buddies.name(this.active)) }));
    }
    for (const msg of conv.messages) this.appendMessage(conv, msg, false);
    this.messages.scrollTop = this.messages.scrollHeight;
    this.renderTyping();
    const offline = !isRoom && !conv.online;
    this.input.disabled = offline;
    this.attachBtn.disabled = offline;
    this.input.placeholder = offline ? t('%s is offline', app.buddies.name(this.active)) : t('Write a message');
  }

  /** Refresh the header bits that depend on calls (p2p mark, call button). */
  refreshHead() {
    if (this.active === ROOM) return;
    const app = this.app;
    const conv = app.chat.conversation(this.active);
    show(this.callBtn, conv.online && !app.calls.get(this.active) && !app.rooms.isConference);
    show(this.p2p, app.calls.channelOpen(this.active));
  }

  appendMessage(conv, msg, scroll = true) {
    const app = this.app;
    const empty = this.messages.querySelector('.msg-empty');
    if (empty) empty.remove();
    const stick = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 60;
    let el;
    if (msg.system) {
      const name = app.buddies.name(msg.from);
      el = h('li', { class: 'msg msg-system', text: msg.text === 'online' ? t('%s is now online', name) : t('%s is now offline', name) });
      this.lastFrom = null;
    } else {
      const time = msg.time instanceof Date ? msg.time : new Date();
      const grouped = this.lastFrom === msg.from && time - this.lastTime < GROUP_GAP;
      const who = msg.own ? t('You') : app.buddies.name(msg.from);
      const meta = h('div', { class: 'msg-meta' },
        h('span', { class: 'msg-from', text: who }),
        h('time', { class: 'msg-time', datetime: time.toISOString(), text: formatTime(time) }));
      let body;
      if (msg.file) {
        body = fileCard(app, msg);
      } else {
        body = h('div', { class: 'msg-text' });
        body.append(linkify(msg.text));
      }
      el = h('li', { class: `msg ${msg.own ? 'msg-own' : 'msg-peer'}${msg.file ? ' msg-file' : ''}${grouped ? ' msg-grouped' : ''}`, dataset: { mid: msg.mid || '' } }, meta, body);
      if (msg.own && msg.state) {
        const state = h('span', { class: 'msg-state' });
        el.append(state);
        this.nodes.set(msg, state);
        this.paintState(state, msg.state);
      }
      this.lastFrom = msg.from;
      this.lastTime = time;
    }
    this.messages.append(el);
    if (scroll && (stick || msg.own)) this.messages.scrollTop = this.messages.scrollHeight;
  }

  paintState(node, state) {
    node.dataset.state = state;
    const label = t(STATE_LABEL[state] || state);
    clear(node).append(icon(STATE_ICON[state] || 'clock'), h('span', { class: 'msg-state-text', text: label }));
    node.title = label;
  }

  updateState(msg) {
    const node = this.nodes.get(msg);
    if (node) this.paintState(node, msg.state);
  }

  renderTyping() {
    const conv = this.app.chat.conversation(this.active);
    const text = this.active !== ROOM && conv.typing ? t('%s is typing…', this.app.buddies.name(this.active)) : '';
    setText(this.typingHint, text);
  }
}
