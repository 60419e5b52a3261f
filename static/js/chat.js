// Chat: the room chat and private chats, message ids and their sent/delivered/seen states, typing
// hints, and peer-to-peer routing over a call's data channel (web-client.md 1.10, 3.7).

import { Emitter, randomHex } from './events.js';
import { parseFileInfo } from './files.js';

export const MESSAGE_MAX = 200000;
const TYPING_IDLE = 4000;
const TYPING_HINT_CLEAR = 20000;
export const ROOM = '';

class Conversation {
  constructor(key) {
    this.key = key; // '' for the room chat, else the peer's session id
    this.messages = [];
    this.unread = 0;
    this.typing = false;
    this.typingTimer = 0;
    this.online = true;
    this.pendingSeen = []; // Mids we received and have not reported as seen
    this.ownTyping = false;
    this.ownTypingTimer = 0;
  }
}

export class Chat extends Emitter {
  /** channel: Channel; calls: Calls (for p2p routing); ownId(): own session id. */
  constructor({ channel, calls, ownId }) {
    super();
    this.channel = channel;
    this.calls = calls;
    this.ownId = ownId;
    this.conversations = new Map([[ROOM, new Conversation(ROOM)]]);
    this.outgoing = new Map(); // Mid -> own message (for state updates)
    calls.on('chat', (peerId, msg) => this.receive({ From: peerId, Data: msg }, { p2p: true }));
  }

  conversation(key, create = true) {
    let c = this.conversations.get(key);
    if (!c && create) {
      c = new Conversation(key);
      this.conversations.set(key, c);
      this.emit('opened', c);
    }
    return c || null;
  }

  /** Forget a private conversation (close its tab). */
  close(key) {
    if (key === ROOM) return;
    this.conversations.delete(key);
    this.emit('closed', key);
  }

  /** The room chat starts over in a new room. */
  resetRoom() {
    const room = this.conversation(ROOM);
    room.messages = [];
    room.unread = 0;
    this.emit('reset', room);
  }

  // ------------------------------------------------------------ sending

  _deliver(peerKey, payload) {
    if (peerKey !== ROOM) {
      const doc = { To: peerKey, Type: 'Chat', Chat: payload };
      if (this.calls.sendChannel(peerKey, doc)) return 'p2p';
    }
    this.channel.send('Chat', { To: peerKey, Type: 'Chat', Chat: payload });
    return 'server';
  }

  /** Send a text message to the room ('') or a peer; returns the local message. */
  send(key, text) {
    text = String(text).slice(0, MESSAGE_MAX);
    if (!text.trim()) return null;
    const conv = this.conversation(key);
    this._stopTyping(conv);
    const mid = randomHex(16);
    const msg = {
      mid, from: this.ownId(), own: true, text, time: new Date(), state: key === ROOM ? '' : 'sending', via: '',
    };
    conv.messages.push(msg);
    if (key !== ROOM) this.outgoing.set(mid, msg);
    msg.via = this._deliver(key, { Mid: mid, Message: text, NoEcho: true });
    this.emit('message', conv, msg);
    return msg;
  }

  /** Offer a shared file in a conversation: a chat message "File" carrying its FileInfo. */
  sendFile(key, info) {
    const conv = this.conversation(key);
    const mid = randomHex(16);
    const msg = {
      mid, from: this.ownId(), own: true, text: '', file: { ...info }, time: new Date(), state: key === ROOM ? '' : 'sending', via: '',
    };
    conv.messages.push(msg);
    if (key !== ROOM) this.outgoing.set(mid, msg);
    msg.via = this._deliver(key, { Mid: mid, Message: 'File', Status: { FileInfo: { ...info } }, NoEcho: true });
    this.emit('message', conv, msg);
    return msg;
  }

  /** Typing hints (private chats only): "start" on input, "stop" after 4 s without. */
  typing(key) {
    if (key === ROOM) return;
    const conv = this.conversation(key);
    if (!conv.ownTyping) {
      conv.ownTyping = true;
      this._deliver(key, { Message: null, Status: { Typing: 'start' }, NoEcho: true });
    }
    clearTimeout(conv.ownTypingTimer);
    conv.ownTypingTimer = setTimeout(() => this._stopTyping(conv), TYPING_IDLE);
  }

  _stopTyping(conv) {
    clearTimeout(conv.ownTypingTimer);
    if (!conv.ownTyping) return;
    conv.ownTyping = false;
    this._deliver(conv.key, { Message: null, Status: { Typing: 'stop' }, NoEcho: true });
  }

  /** The user looked at a private chat: report every message not yet reported as seen. */
  markSeen(key) {
    const conv = this.conversations.get(key);
    if (!conv) return;
    if (conv.unread) {
      conv.unread = 0;
      this.emit('unread', conv);
    }
    if (key === ROOM || !conv.pendingSeen.length) return;
    const mids = conv.pendingSeen;
    conv.pendingSeen = [];
    this._deliver(key, { Message: null, Status: { SeenMids: mids }, NoEcho: true });
  }

  // ------------------------------------------------------------ receiving

  /** A Chat envelope from the server, or a data-channel Chat wrapped as one (p2p). */
  receive(envelope, { p2p = false } = {}) {
    const data = envelope.Data || {};
    const chat = data.Chat;
    const from = envelope.From || '';
    const own = this.ownId();
    if (!chat || typeof chat !== 'object') return;
    const status = chat.Status && typeof chat.Status === 'object' ? chat.Status : null;
    if (from === own) {
      // the server's "sent" report for one of our private messages (echoes are off: NoEcho)
      if (status && status.State === 'sent' && chat.Mid) this._setState(chat.Mid, 'sent');
      return;
    }
    let key;
    if (data.To === own || (p2p && (data.To === undefined || data.To === own))) key = from;
    else if (data.To === '' && !p2p) key = ROOM;
    else return;
    if (status) this._status(key, from, status);
    const file = status && status.FileInfo ? parseFileInfo(status.FileInfo) : null;
    const text = !file && typeof chat.Message === 'string' ? chat.Message : '';
    if (!text && !file) return;
    const conv = this.conversation(key);
    if (conv.typing) this._setTyping(conv, false);
    const time = chat.Time ? new Date(chat.Time) : new Date();
    const msg = {
      mid: chat.Mid || '', from, own: false, text: text.slice(0, MESSAGE_MAX), time: Number.isNaN(time.getTime()) ? new Date() : time,
      state: '', via: p2p ? 'p2p' : 'server', file,
    };
    conv.messages.push(msg);
    if (key !== ROOM && msg.mid) {
      this._deliver(key, { Message: null, Status: { State: 'delivered', Mid: msg.mid }, NoEcho: true });
      conv.pendingSeen.push(msg.mid);
    }
    conv.unread += 1;
    this.emit('message', conv, msg);
    this.emit('unread', conv);
  }

  _status(key, from, status) {
    if (status.State === 'delivered' && status.Mid) this._setState(status.Mid, 'delivered');
    if (Array.isArray(status.SeenMids)) for (const mid of status.SeenMids) this._setState(mid, 'seen');
    if (status.Typing && key !== ROOM) {
      const conv = this.conversation(key, false); // a typing hint alone opens no conversation
      if (conv) this._setTyping(conv, status.Typing === 'start');
    }
  }

  _setTyping(conv, typing) {
    clearTimeout(conv.typingTimer);
    conv.typing = typing;
    if (typing) conv.typingTimer = setTimeout(() => this._setTyping(conv, false), TYPING_HINT_CLEAR + TYPING_IDLE);
    this.emit('typing', conv);
  }

  _setState(mid, state) {
    const msg = this.outgoing.get(mid);
    if (!msg) return;
    const order = ['sending', 'sent', 'delivered', 'seen'];
    if (order.indexOf(state) <= order.indexOf(msg.state)) return;
    msg.state = state;
    if (state === 'seen') this.outgoing.delete(mid);
    for (const conv of this.conversations.values()) {
      if (conv.messages.includes(msg)) this.emit('state', conv, msg);
    }
  }

  /** Presence changes shown inside private chats. */
  peerOnline(peerId, online) {
    const conv = this.conversations.get(peerId);
    if (!conv || conv.online === online) return;
    conv.online = online;
    conv.messages.push({ system: true, text: online ? 'online' : 'offline', from: peerId, time: new Date() });
    this.emit('presence', conv);
  }

  stateOf(mid) {
    const msg = this.outgoing.get(mid);
    if (msg) return msg.state;
    for (const conv of this.conversations.values()) {
      const m = conv.messages.find((x) => x.mid === mid);
      if (m) return m.state;
    }
    return null;
  }
}
