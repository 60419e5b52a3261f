// Room moderation (docs/moderation.md): the room's Moderation state, the Moderated events that
// concern us (waiting in a lobby, admitted, denied, removed, asked to mute, meeting ended), the
// moderator actions (Moderate requests) and invite links (`?invite=` in the address, sent once
// more with every Hello for that room). The server enforces all of it; the UI only offers what
// our role allows.

import { Emitter } from './events.js';
import { roomFromLocation, roomURL, basePath } from './config.js';

export const FEATURE = 'moderation';
/** Invite link lifetimes offered (seconds); the server allows at most 30 days. */
export const INVITE_LIFETIMES = [3600, 86400, 7 * 86400, 30 * 86400];
export const DEFAULT_INVITE_LIFETIME = 86400;
/** Join errors this module explains itself (the app shows no generic message for them). */
const OWN_ERRORS = new Set(['room_banned', 'room_locked', 'invalid_invite']);
const TOKEN_MAX = 4096;

/**
 * Take `?invite=` out of the address bar (and so out of history and bookmarks) and return it with
 * the room it was made for. Runs when the module loads, before anything routes by the URL.
 */
function takeAddressInvite() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('invite');
  if (token === null) return null;
  url.searchParams.delete('invite');
  window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  if (!token || token.length > TOKEN_MAX) return null;
  return { room: roomFromLocation(), token };
}

const addressInvite = takeAddressInvite();

export class ModerationError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

function cleanState(doc) {
  if (!doc || typeof doc !== 'object') return null;
  const ids = (list) => (Array.isArray(list) ? list.filter((x) => typeof x === 'string') : []);
  const lobby = Array.isArray(doc.Lobby) ? doc.Lobby.filter((e) => e && typeof e.Id === 'string').map((e) => ({
    id: e.Id, name: typeof e.Name === 'string' ? e.Name : '', userid: typeof e.Userid === 'string' ? e.Userid : '',
  })) : [];
  return {
    room: typeof doc.Room === 'string' ? doc.Room : '',
    moderators: ids(doc.Moderators),
    locked: doc.Locked === true,
    lobby,
    role: doc.Role === 'moderator' ? 'moderator' : 'participant',
  };
}

export class Moderation extends Emitter {
  /**
   * channel: Channel; rooms: Rooms; calls: Calls; media: Media.
   * Events: change (state or waiting), knock (lobby entry), promoted, waiting, admitted, denied,
   * removed, ended, mute (a moderator asks us to mute), invite-dropped, banned, locked-out.
   */
  constructor({ channel, rooms, calls, media }) {
    super();
    this.streamMuted = new Set(); // ids we muted at the SFU (moderators)
    this.channel = channel;
    this.rooms = rooms;
    this.calls = calls;
    this.media = media;
    this.supported = false; // the server said so in the last Welcome
    this.state = null; // cleanState() of the room we are in
    this.waiting = null; // {room, since}: we wait in this room's lobby
    this.invite = addressInvite; // {room, token}: kept in memory only
    // our Hello says what we support, next to what others add (the SFU)
    const others = rooms.features;
    rooms.features = () => {
      const list = typeof others === 'function' ? others() : [];
      return list.includes(FEATURE) ? list : [...list, FEATURE];
    };
    const extend = rooms.extendHello;
    rooms.extendHello = (hello) => {
      if (typeof extend === 'function') extend(hello);
      if (this.invite && this.invite.room === hello.Name) hello.Invite = this.invite.token;
    };
    rooms.on('joined', ({ room, welcome }) => this._welcomed(room, welcome || {}));
    rooms.on('reply', ({ name, data }) => {
      if (data && data.Type === 'Moderated') this._event(data.Moderated, name);
    });
    rooms.on('left', () => this._setState(null));
    rooms.on('welcome', () => {
      this.waiting = null;
      this._setState(null);
    });
    rooms.on('joining', (name) => {
      if (this.waiting && this.waiting.room !== name) {
        this.waiting = null;
        this.emit('change');
      }
    });
    rooms.on('error', ({ name, code }) => this._joinError(name, code));
  }

  // ------------------------------------------------------------ queries

  get role() {
    return this.state ? this.state.role : '';
  }

  get isModerator() {
    return this.supported && !!this.state && this.state.role === 'moderator';
  }

  get locked() {
    return !!this.state && this.state.locked;
  }

  get lobby() {
    return this.state ? this.state.lobby : [];
  }

  isModeratorId(id) {
    return !!this.state && this.state.moderators.includes(id);
  }

  /** Does this module explain the join error itself? */
  explains(code) {
    return OWN_ERRORS.has(code);
  }

  // ------------------------------------------------------------ incoming

  /** A Moderation, Moderated or Invite document that arrived without a request of ours. */
  receive(data) {
    if (!data || typeof data !== 'object') return;
    if (data.Type === 'Moderation') this._stateDoc(data.Moderation);
    else if (data.Type === 'Moderated') this._event(data.Moderated, null);
  }

  _welcomed(room, welcome) {
    const features = Array.isArray(welcome.Features) ? welcome.Features : [];
    this.supported = features.includes(FEATURE) || !!(welcome.Moderation && typeof welcome.Moderation === 'object');
    if (this.waiting) {
      this.waiting = null;
      this.emit('admitted', { room: room.Name });
    }
    this._setState(this.supported ? cleanState(welcome.Moderation) : null, { fresh: true });
  }

  _stateDoc(doc) {
    const state = cleanState(doc);
    if (!state || !this.rooms.current) return;
    if (state.room && state.room !== this.rooms.current.Name) return; // a late copy from a room we left
    this.supported = true;
    this._setState(state);
  }

  _setState(state, { fresh = false } = {}) {
    const before = this.state;
    this.state = state;
    if (state && before && !fresh && before.room === state.room) {
      if (before.role !== 'moderator' && state.role === 'moderator') this.emit('promoted', state);
      if (state.role === 'moderator') {
        const known = new Set(before.role === 'moderator' ? before.lobby.map((e) => e.id) : []);
        for (const entry of state.lobby) if (!known.has(entry.id)) this.emit('knock', entry);
      }
    } else if (state && state.role === 'moderator') {
      for (const entry of state.lobby) this.emit('knock', entry);
    }
    this.emit('change', state);
  }

  _sameRoom(room) {
    if (typeof room !== 'string') return true;
    const ours = this.rooms.current ? this.rooms.current.Name : (this.waiting ? this.waiting.room : this.rooms.wanted);
    return ours === null || ours === undefined || room === ours;
  }

  /** A Moderated event: as the reply to our Hello (name set) or on its own. */
  _event(ev, helloName) {
    if (!ev || typeof ev !== 'object' || typeof ev.Action !== 'string') return;
    const room = typeof ev.Room === 'string' ? ev.Room : (helloName ?? '');
    const by = typeof ev.By === 'string' ? ev.By : '';
    switch (ev.Action) {
      case 'waiting':
        if (helloName === null && !this._sameRoom(room)) return;
        this.waiting = { room: helloName ?? room, since: Date.now() };
        this.rooms.detach();
        this._setState(null);
        this.emit('waiting', { room: this.waiting.room });
        break;
      case 'admitted':
        if (!this.waiting || (ev.Room !== undefined && ev.Room !== this.waiting.room)) return;
        // the Welcome to our next Hello ends the wait ("admitted" is emitted then)
        this.rooms.hello();
        break;
      case 'denied':
        if (!this.waiting || (ev.Room !== undefined && ev.Room !== this.waiting.room)) return;
        this.waiting = null;
        this._outside();
        this.emit('denied', { room, by });
        break;
      case 'removed':
      case 'ended':
        if (!this._sameRoom(room)) return;
        this.waiting = null;
        this.calls.endAll();
        this._outside();
        this.emit(ev.Action, { room, by });
        break;
      case 'mute':
        if (!this._sameRoom(room)) return;
        if (!this.media.audioMuted) this.media.setAudioMuted(true);
        this.emit('mute', { room, by });
        break;
      case 'streamMuted': // the SFU no longer forwards our microphone: show it muted here too
        if (!this._sameRoom(room)) return;
        if (!this.media.audioMuted) this.media.setAudioMuted(true);
        this.emit('stream-muted', { room, by });
        break;
      default:
        break;
    }
  }

  /** We are in no room any more: the welcome page, with an address that does not lead back. */
  _outside() {
    this.rooms.detach();
    this._setState(null);
    if (location.pathname !== basePath) window.history.replaceState({ room: '' }, '', basePath);
    this.rooms.showWelcome();
  }

  _joinError(name, code) {
    if (code === 'invalid_invite') {
      // the link was revoked or expired: try the ordinary way in (PIN, lobby)
      if (this.invite && this.invite.room === name) {
        this.invite = null;
        this.emit('invite-dropped', { room: name });
        this.rooms.hello();
      }
      return;
    }
    if (code === 'room_banned' || code === 'room_locked') {
      this.waiting = null;
      this.emit(code === 'room_banned' ? 'banned' : 'locked-out', { room: name });
      this._outside();
    }
  }

  // ------------------------------------------------------------ actions

  /**
   * Leave the lobby we wait in, the way "Leave room" leaves a room: to the default room (or the
   * welcome page when there is none). That Hello takes our knock out of the lobby; the Leave before
   * it says so where no Hello gets that far (no default room).
   */
  cancelWaiting() {
    if (!this.waiting) return;
    this.waiting = null;
    if (this.channel.connected) this.channel.send('Leave', {}); // never queued for a later connection
    this.emit('change');
    this.rooms.leave();
  }

  /** Send a Moderate request; resolves with the reply document, rejects with ModerationError. */
  async act(action, { target, expires } = {}) {
    const payload = { Action: action };
    if (target !== undefined) payload.Target = target;
    if (expires !== undefined) payload.Expires = expires;
    let reply;
    try {
      reply = await this.channel.request('Moderate', payload);
    } catch (err) {
      throw new ModerationError('disconnected', err.message);
    }
    const data = (reply && reply.Data) || {};
    if (data.Type === 'Error') throw new ModerationError(data.Code || 'error', data.Message);
    if (data.Type === 'Moderation') this._stateDoc(data.Moderation);
    else if (data.Type === 'Moderated') this._event(data.Moderated, null); // "end" answers "ended"
    return data;
  }

  lock(locked = true) { return this.act(locked ? 'lock' : 'unlock'); }

  admit(id) { return this.act('admit', { target: id }); }

  deny(id) { return this.act('deny', { target: id }); }

  remove(id) { return this.act('remove', { target: id }); }

  /** Ask one member (id) or everyone else ('') to mute. */
  askMute(id = '') { return this.act('mute', { target: id }); }

  /** In a room on the SFU: stop (or resume) forwarding someone's microphone at the server. */
  async muteStream(id, mute = true) {
    const reply = await this.act(mute ? 'muteStream' : 'unmuteStream', { target: id });
    if (mute) this.streamMuted.add(id);
    else this.streamMuted.delete(id);
    this.emit('change');
    return reply;
  }

  end() { return this.act('end'); }

  handover(id) { return this.act('handover', { target: id }); }

  revokeInvites() { return this.act('revokeInvites'); }

  /** A new invite link for the current room: {url, token, expires (unix seconds)}. */
  async createInvite(seconds = DEFAULT_INVITE_LIFETIME) {
    const data = await this.act('invite', { expires: seconds });
    const invite = data.Type === 'Invite' && data.Invite && typeof data.Invite === 'object' ? data.Invite : null;
    if (!invite || typeof invite.Token !== 'string' || !invite.Token) throw new ModerationError('bad_reply', 'no invite token');
    const room = this.rooms.name || '';
    const url = `${roomURL(room)}?invite=${encodeURIComponent(invite.Token)}`;
    return { url, token: invite.Token, expires: Number(invite.Expires) || 0 };
  }
}
