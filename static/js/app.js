// Entry point: builds the models and the UI from the page's boot context and wires them together.

import { cfg, context, websocketURL, testHooksEnabled, roomURL } from './config.js';
import { t, chooseLanguage, loadLanguage } from './i18n.js';
import { h } from './dom.js';
import { Emitter } from './events.js';
import { Channel } from './channel.js';
import { Rooms } from './rooms.js';
import { Buddies } from './buddies.js';
import { Profile } from './profile.js';
import { Media } from './media.js';
import { Sounds } from './sounds.js';
import { Calls } from './calls.js';
import { Sfu } from './sfu.js';
import { Chat, ROOM } from './chat.js';
import { TokenConnections } from './tokens.js';
import { Files } from './files.js';
import { cleanupStore } from './filestore.js';
import { ScreenShare } from './screenshare.js';
import { Accounts } from './accounts.js';
import { Moderation } from './moderation.js';
import { Notifier } from './notify.js';
import { Shell } from './ui/shell.js';
import { Stage } from './ui/stage.js';
import { Welcome } from './ui/welcome.js';
import { RoomBar } from './ui/roombar.js';
import { BuddyList } from './ui/buddylist.js';
import { ChatPanel } from './ui/chatpanel.js';
import { ModerationUI } from './ui/moderation.js';
import { openSettings } from './ui/settings.js';
import { toast, confirmDialog } from './ui/dialogs.js';
import { accountErrorText } from './ui/account.js';
import { installTestHooks } from './testhooks.js';

const STATUS_DEBOUNCE = 1000;

function unsupported(text) {
  const loader = document.getElementById('loader');
  if (loader) {
    loader.replaceChildren(h('p', { class: 'loader-message', text }));
    loader.classList.add('loader-error');
  }
}

class App extends Emitter {
  constructor() {
    super();
    this.cfg = cfg;
    this.profile = new Profile();
    this.channel = new Channel(websocketURL());
    this.rooms = new Rooms(this.channel, { askPin: (name, wrong) => RoomBar.askPin(name, wrong) });
    this.buddies = new Buddies();
    this.media = new Media(this.profile);
    this.sounds = new Sounds((name) => this.soundAllowed(name));
    this.notifier = new Notifier(this.profile);
    this.iceServers = [];
    this.calls = new Calls({
      channel: this.channel, media: this.media, rooms: this.rooms, sounds: this.sounds,
      iceServers: () => this.iceServers, ownId: () => this.ownId(),
    });
    this.sfu = new Sfu({
      channel: this.channel, media: this.media, calls: this.calls, rooms: this.rooms,
      iceServers: () => this.iceServers, ownId: () => this.ownId(),
    });
    this.rooms.features = () => this.sfu.features();
    this.chat = new Chat({ channel: this.channel, calls: this.calls, ownId: () => this.ownId() });
    this.tokens = new TokenConnections({ channel: this.channel, iceServers: () => this.iceServers });
    this.files = new Files({ tokens: this.tokens, ownId: () => this.ownId() });
    this.screenshare = new ScreenShare({ tokens: this.tokens, calls: this.calls, ownId: () => this.ownId(), sfu: this.sfu });
    this.accounts = new Accounts(this.channel);
    // after rooms.features is set: Moderation adds 'moderation' to that list, and invites to the Hello
    this.moderation = new Moderation({ channel: this.channel, rooms: this.rooms, calls: this.calls, media: this.media });
    this.accountGate = null; // {room}: the room we were refused for lack of an account
    this.callNote = null;
    this.firstRunShown = false;
    this.signingOut = false;
    this.lastStatus = null;
    this.statusTimer = 0;
    this.helloPending = false;
    this.versionAsked = false;
    this.wasInRoom = null;
  }

  ownId() {
    return (this.channel.self && this.channel.self.Id) || '';
  }

  emitUI(type, data) {
    this.emit(`ui:${type}`, data);
  }

  // ------------------------------------------------------------ start-up

  /** May this sound play now? The master switch and one switch per kind (settings). */
  soundAllowed(name) {
    const p = this.profile;
    if (!p.get('sounds')) return false;
    if (name === 'ring' || name === 'dial') return !!p.get('soundRing');
    if (name === 'message') return !!p.get('soundMessages');
    if (name === 'joined' || name === 'left') return !!p.get('soundJoinLeave');
    return true;
  }

  async start() {
    const query = new URLSearchParams(location.search).get('lang') || '';
    this.language = await loadLanguage(chooseLanguage({
      query, setting: this.profile.get('language'), server: context.Languages, browser: navigator.languages,
    }));
    if (typeof WebSocket === 'undefined' || typeof RTCPeerConnection === 'undefined') {
      unsupported(t('Your browser does not support WebRTC. Please use a current version of Firefox, Chrome, Edge or Safari.'));
      return;
    }
    this.shell = new Shell(this);
    this.stage = new Stage(this, this.shell.stageSlot);
    this.welcome = new Welcome(this, this.stage.welcomeSlot);
    this.roomBar = new RoomBar(this, this.shell.roombarSlot);
    this.buddyList = new BuddyList(this, this.shell.peopleSlot);
    this.chatPanel = new ChatPanel(this, this.shell.chatSlot);
    this.moderationUI = new ModerationUI(this);
    this.wire();
    this.chatPanel.render();
    this.render();
    if (testHooksEnabled) installTestHooks(this);
    const loader = document.getElementById('loader');
    if (loader) loader.remove();
    document.body.classList.add('ready');
    this.channel.start();
    cleanupStore();
  }

  wire() {
    const { channel, rooms, buddies } = this;

    channel.on('open', () => {
      this.lastStatus = null;
      this.helloPending = true;
      this.shell.setBanner('');
      this.render();
    });
    channel.on('close', ({ wasConnected }) => {
      this.sfu.leave(); // the server forgets our SFU links with the socket; it says again after Hello
      rooms.disconnected();
      buddies.clear();
      if (this.signingOut) this.signingOut = false;
      else if (wasConnected || channel.everConnected) this.shell.setBanner(t('Connection interrupted. Reconnecting…'));
      this.render();
    });
    channel.on('reconnecting', ({ delay }) => {
      if (channel.everConnected && delay > 2000) {
        this.shell.setBanner(t('Connection interrupted. Trying again in %s seconds…', Math.round(delay / 1000)));
      }
    });
    channel.on('self', (self) => {
      this.iceServers = iceServersFrom(self);
      if (self.Version && cfg.Version && self.Version !== cfg.Version) this.askReload();
      this.publishStatus(true);
      if (this.accounts.wantsAutoLogin(self)) {
        // sign in with the stored login first; its new Self brings us back here
        this.accounts.autoLogin().then((ok) => {
          if (!ok) this.afterSelf();
        });
        this.render();
        return;
      }
      this.afterSelf();
    });
    channel.on('message', (env) => this.dispatch(env));
    this.wireModels();
  }

  /** The session is known (and signed in, if it can be): join the room we want to be in. */
  afterSelf() {
    const { channel, rooms } = this;
    if (this.helloPending) {
      this.helloPending = false;
      if (rooms.wanted === null) {
        this.showWelcome();
        channel.flush();
      } else {
        rooms.hello();
      }
    }
    this.render();
    if (this.welcome) this.welcome.renderAccount();
  }

  wireModels() {
    const { channel, rooms, buddies, calls, chat, media, profile } = this;

    rooms.on('joined', ({ room, users }) => {
      const ownId = this.ownId();
      const sameRoom = this.wasInRoom !== null && this.wasInRoom === `${room.Type}:${room.Name}`;
      if (this.wasInRoom && !sameRoom) {
        chat.resetRoom();
        if (this.wasInRoom.startsWith('Conference:')) calls.endAll();
      }
      this.wasInRoom = `${room.Type}:${room.Name}`;
      buddies.setAll(users, ownId);
      document.title = room.Name ? `${room.Name} - ${cfg.Title || 'Spreed WebRTC'}` : (cfg.Title || 'Spreed WebRTC');
      for (const cls of [...document.body.classList]) if (cls.startsWith('roomType')) document.body.classList.remove(cls);
      document.body.classList.add(`roomType${room.Type}`);
      if (rooms.isConference) media.ensure();
      if (sameRoom) calls.reconnected();
      channel.flush();
      this.accountGate = null;
      this.render();
      if (profile.firstRun && !this.firstRunShown) {
        this.firstRunShown = true;
        setTimeout(() => openSettings(this, { firstRun: true }), 300);
      }
    });
    rooms.on('left', (room, info) => {
      if (!(info && info.disconnected) && room.Type === 'Conference') calls.endAll();
      this.render();
    });
    rooms.on('welcome', () => {
      if (this.wasInRoom && this.wasInRoom.startsWith('Conference:')) calls.endAll();
      this.wasInRoom = null;
      chat.resetRoom();
      this.showWelcome();
    });
    rooms.on('error', ({ name, code, message }) => {
      if (this.moderation.explains(code)) return; // banned, locked, stale invite: moderation.js says it
      if (code === 'room_join_requires_account') {
        // explained (with sign-in buttons) on the welcome page, or in a toast when we stay in a room
        this.accountGate = { room: name };
        if (rooms.lastJoined !== null && rooms.lastJoined !== name) {
          toast(t('The room "%s" is only open to people who are signed in.', name || t('Default room')), {
            kind: 'warn', timeout: 10000, action: { label: t('Settings'), run: () => this.openSettings() },
          });
        }
        if (this.welcome) this.welcome.renderAccount();
        return;
      }
      toast(t('Could not join the room: %s', message), { kind: 'error' });
    });
    rooms.on('pin', ({ name, pin }) => {
      const label = name || t('Default room');
      toast(pin ? t('PIN for room %s is now "%s".', label, pin) : t('PIN lock has been removed from room %s.', label), { kind: 'info' });
      this.roomBar.render();
    });
    rooms.on('updated', () => this.roomBar.render());

    buddies.on('change', () => {
      this.buddyList.render();
      this.stage.renderLobby();
      this.stage.sync();
      this.chatPanel.renderTabs();
      this.updateCounts();
    });
    buddies.on('joined', (b) => {
      chat.peerOnline(b.id, true);
      this.sounds.play('joined');
    });
    buddies.on('left', ({ id, status, known }) => {
      if (known) this.sounds.play('left');
      if (status !== 'soft') {
        chat.peerOnline(id, false);
        this.files.peerGone(id);
        this.screenshare.closeView(id);
      }
    });

    calls.on('change', () => {
      if (this.callNote && !calls.list().some((c) => c.state === 'ringing')) {
        this.callNote.close();
        this.callNote = null;
      }
      this.render();
    });
    calls.on('tracks', (call) => this.stage.updateTile(call));
    calls.on('talking', (call) => this.stage.updateTile(call));
    calls.on('channel', () => this.chatPanel.refreshHead());
    calls.on('incoming', (call) => {
      if (this.shell.phone) this.shell.closeSide();
      const name = this.buddies.name(call.peerId);
      this.callNote = this.notifier.show(t('Incoming call'), { body: t('Incoming call from %s', name), tag: 'spreed-incoming', sticky: true });
    });
    calls.on('connected', () => {
      if (this.shell.phone) this.shell.closeSide();
    });
    calls.on('ended', (info) => this.callEnded(info));
    calls.on('notice', ({ kind, peerId }) => {
      if (kind === 'busy-incoming') toast(t('%s tried to call you while you were busy.', this.buddies.name(peerId)), { kind: 'info', timeout: 10000 });
    });

    chat.on('message', (conv, msg) => {
      if (msg.own) return;
      const hidden = document.visibilityState !== 'visible';
      if (conv.key !== ROOM) {
        this.sounds.play('message');
        if (!this.shell.chatVisible() && !this.shell.phone) this.shell.openSide('chat');
        if (this.chatPanel.active === ROOM && !this.chatPanel.input.value) this.chatPanel.select(conv.key);
      } else if (!this.shell.chatVisible() || hidden) {
        this.sounds.play('message');
      }
      const from = this.buddies.name(msg.from);
      this.notifier.show(t('Message from %s', from), {
        body: msg.file ? t('File: %s', msg.file.name) : msg.text.slice(0, 160), tag: `spreed-chat-${conv.key || 'room'}`,
      });
      this.updateCounts();
    });
    chat.on('unread', () => this.updateCounts());

    media.on('error', (err) => this.mediaError(err));
    media.on('partial', (kind) => {
      this.shell.setMediaNotice(kind === 'video'
        ? t('Your camera is not available, so others only hear you. Check that no other program uses it.')
        : t('Your microphone is not available, so others only see you.'));
    });
    media.on('stream', () => {
      if (!media.partial) this.shell.setMediaNotice('');
      this.render();
    });
    media.on('stopped', () => this.render());
    media.on('mute', () => this.render());

    profile.on('change', (changed) => {
      if (changed.some((k) => ['name', 'message', 'picture'].includes(k))) this.publishStatus(false);
      if (changed.includes('camera') || changed.includes('quality')) media.refreshTrack('video');
      if (changed.includes('mic')) media.refreshTrack('audio');
      if (changed.includes('speaker')) this.stage.applySpeakerAll();
      this.renderStatus();
      this.buddyList.render();
      this.stage.renderLobby();
    });

    this.files.on('downloaded', (download) => download.save());
    this.screenshare.on('change', () => this.render());
    this.screenshare.on('error', (err) => toast(t('Screen sharing failed: %s', err.message || err.name), { kind: 'error' }));
    this.accounts.on('change', () => this.render());
    this.accounts.on('signed-in', ({ name } = {}) => {
      // a login link may offer a display name: taken only when the user has not chosen one
      if (name && !this.profile.get('name')) this.profile.update({ name });
      this.render();
      if (this.welcome) this.welcome.renderAccount();
      if (this.accountGate) this.retryGatedRoom();
    });
    this.accounts.on('login-failed', (err) => {
      toast(`${t('Your saved sign-in did not work, so you are not signed in.')} ${accountErrorText(err)}`, { kind: 'warn', timeout: 10000 });
    });

    this.on('ui:side', () => {
      if (this.chatPanel) {
        this.chatPanel.renderTabs();
        if (this.shell.chatVisible()) this.chat.markSeen(ROOM);
      }
    });

    window.addEventListener('beforeunload', (ev) => {
      if (this.calls.list().some((c) => c.state === 'connected')) {
        ev.preventDefault();
        ev.returnValue = '';
      }
    });
    window.addEventListener('pagehide', () => {
      this.screenshare.closeAll();
      this.tokens.closeAll();
      this.calls.unload();
    });
    document.addEventListener('visibilitychange', () => this.chatPanel.renderTabs());
  }

  // ------------------------------------------------------------ incoming documents

  dispatch(env) {
    const data = env.Data;
    if (!data || typeof data !== 'object') return;
    switch (data.Type) {
      // token connections (files, screens) first; everything else is a call
      case 'Offer': if (!this.tokens.offer(env.From, data)) this.calls.offer(env.From, data); break;
      case 'Answer': if (!this.tokens.answer(env.From, data)) this.calls.answer(env.From, data); break;
      case 'Candidate': if (!this.tokens.candidate(env.From, data)) this.calls.candidate(env.From, data); break;
      case 'Bye': this.calls.bye(env.From, data); break;
      case 'Joined': this.buddies.joined(data); break;
      case 'Left': this.buddies.left(data); this.sfu.peerLeft(data.Id); break;
      case 'Status': this.buddies.status(data); break;
      case 'Users': if (Array.isArray(data.Users)) this.buddies.setAll(data.Users, this.ownId()); break;
      case 'Chat': this.chat.receive(env); break;
      case 'Conference':
        if (Array.isArray(data.Conference)) this.calls.conference(env, data);
        else this.rooms.roomUpdate(data);
        break;
      case 'Room': this.rooms.roomUpdate(data); break;
      case 'Alive': break;
      case 'Moderation': case 'Moderated': this.moderation.receive(data); break;
      case 'Sfu': this.sfu.mode(data.Sfu); break;
      case 'SfuOffer': this.sfu.offer(data.SfuOffer); break;
      case 'SfuEvent': this.sfu.event(data.SfuEvent); break;
      default:
        // a Room update in a room of another type carries that type ("Conference", ...)
        if (typeof data.Name === 'string' && 'Credentials' in data) this.rooms.roomUpdate(data);
    }
  }

  // ------------------------------------------------------------ status and rendering

  /** Publish our profile (Status) now or debounced, only when it changed on this connection. */
  publishStatus(now) {
    clearTimeout(this.statusTimer);
    const send = () => {
      if (!this.channel.connected) return;
      const status = this.profile.status();
      const json = JSON.stringify(status);
      if (json === this.lastStatus) return;
      this.lastStatus = json;
      this.channel.send('Status', { Type: 'Status', Status: status });
    };
    if (now) send();
    else this.statusTimer = setTimeout(send, STATUS_DEBOUNCE);
  }

  hideRoomBar() {
    const s = this.calls.summary().state;
    return !this.rooms.isConference && s !== 'idle';
  }

  render() {
    if (!this.shell) return;
    this.renderStatus();
    const inRoom = !!this.rooms.current;
    const callActive = this.calls.size > 0 && this.calls.list().some((c) => c.state !== 'ringing');
    if (this.rooms.wanted === null && !callActive) this.stage.setMode('welcome');
    else if (callActive || this.rooms.isConference) this.stage.setMode('call');
    else this.stage.setMode('lobby');
    this.stage.renderLobby();
    this.stage.sync();
    this.roomBar.render();
    this.buddyList.render();
    this.chatPanel.refreshHead();
    const media = this.media;
    this.shell.setMediaButtons({
      visible: !!media.stream,
      audioMuted: media.audioMuted,
      videoMuted: media.videoMuted,
      hasAudio: !!media.track('audio'),
      hasVideo: !!media.track('video'),
      inCall: callActive || this.rooms.isConference,
      screen: {
        available: this.screenshare.supported && this.calls.shown().some((c) => c.state === 'connected'), // mesh or SFU
        active: this.screenshare.sharing,
        starting: this.screenshare.starting,
      },
    });
    document.body.classList.toggle('in-room', inRoom);
    document.body.classList.toggle('on-welcome', this.rooms.wanted === null);
    document.body.classList.toggle('in-call', callActive);
    this.updateCounts();
  }

  renderStatus() {
    const names = (ids) => ids.map((id) => this.buddies.name(id));
    const { state, peers } = this.calls.summary();
    const confRoom = this.rooms.isConference;
    const s = this.shell;
    if (state === 'idle') {
      if (!this.channel.connected) {
        if (this.channel.everConnected) s.setStatus('reconnecting', t('Connection interrupted'));
        else s.setStatus('initializing', t('Connecting…'));
      } else if (!this.channel.self) {
        s.setStatus('initializing', t('Connecting…'));
      } else if (confRoom) {
        s.setStatus('waiting', t('Conference room: waiting for others to join'));
      } else {
        const me = this.profile.get('name');
        s.setStatus('waiting', me ? t('Online as %s', me) : t('Online'));
      }
      return;
    }
    const n = names(peers);
    switch (state) {
      case 'ringing':
        s.setStatus('ringing', t('Incoming call from %s', n[0]), { accept: true, reject: true });
        break;
      case 'waitmedia':
        s.setStatus('waitforusermedia', t('Waiting for camera/microphone access'), { hangup: !confRoom });
        break;
      case 'calling':
        s.setStatus('connecting', t('Calling %s…', n.join(', ')), { hangup: true });
        break;
      case 'connecting':
        s.setStatus('connecting', confRoom ? t('Connecting to the conference…') : t('Connecting to %s…', n.join(', ')), { hangup: !confRoom });
        break;
      case 'connected':
        s.setStatus('connected', t('In call with %s', n[0]), { hangup: true });
        break;
      case 'conference': {
        let text;
        if (n.length === 1) text = t('Conference with %s', n[0]);
        else if (n.length === 2) text = t('Conference with %s and %s', n[0], n[1]);
        else text = t('Conference with %s and %s others', n[0], n.length - 1);
        s.setStatus('conference', text, { hangup: !confRoom });
        break;
      }
      default:
        s.setStatus(state, '');
    }
  }

  updateCounts() {
    if (!this.shell) return;
    let unread = 0;
    for (const conv of this.chat.conversations.values()) {
      if (!(this.shell.chatVisible() && this.chatPanel.active === conv.key)) unread += conv.unread;
    }
    this.shell.setCounts({ people: this.buddies.map.size, unread });
  }

  // ------------------------------------------------------------ actions used by the UI

  startCall(peerId) {
    if (this.rooms.isConference) return;
    const call = this.calls.call(peerId);
    if (call && this.shell.phone) this.shell.closeSide();
  }

  acceptRinging() {
    const call = this.calls.list().find((c) => c.state === 'ringing');
    if (call) this.calls.accept(call.peerId);
  }

  rejectRinging() {
    const call = this.calls.list().find((c) => c.state === 'ringing');
    if (call) this.calls.reject(call.peerId);
  }

  openChat(peerId) {
    if (!peerId || peerId === this.ownId()) return;
    this.shell.openSide('chat');
    this.chatPanel.select(peerId);
    this.chatPanel.input.focus();
  }

  openSettings() {
    return openSettings(this);
  }

  toggleScreenShare() {
    if (this.screenshare.sharing) this.screenshare.stop();
    else this.screenshare.start();
  }

  /** Forget the login and reconnect without the session token: a new anonymous session. */
  signOut() {
    this.screenshare.closeAll();
    this.calls.hangup();
    this.tokens.closeAll();
    this.signingOut = true;
    this.channel.token = '';
    this.channel.self = null;
    this.accounts.signOut();
    this.channel.reconnectNow();
    toast(t('You have signed out.'), { kind: 'info', timeout: 4000 });
    this.render();
  }

  /** After signing in: join the room that needed an account. */
  retryGatedRoom() {
    const gate = this.accountGate;
    if (!gate || !this.accounts.signedIn) return;
    this.accountGate = null;
    this.rooms.join(gate.room, { history: 'replace' });
    if (this.welcome) this.welcome.renderAccount();
  }

  /** A new language from the settings: the page reloads (unless that would end a call). */
  languageChanged() {
    if (this.calls.size > 0) {
      toast(t('The new language is used after the page reloads.'), { kind: 'info', timeout: 6000 });
      return;
    }
    location.reload();
  }

  leaveRoom() {
    if (this.rooms.isConference) this.calls.endAll();
    if (cfg.DefaultRoomEnabled === false) {
      // Hello "" takes us out of the room; the server answers default_room_disabled → welcome page
      this.rooms.join('');
    } else {
      this.rooms.leave();
    }
  }

  showWelcome() {
    this.render();
    this.welcome.show();
    document.title = cfg.Title || 'Spreed WebRTC';
  }

  async copyRoomLink() {
    const url = roomURL(this.rooms.name || '');
    try {
      await navigator.clipboard.writeText(url);
      toast(t('Room link copied. Send it to the people you want to meet.'), { kind: 'ok', timeout: 3500 });
    } catch {
      toast(t('Copy this link: %s', url), { kind: 'info', timeout: 15000 });
    }
  }

  async askReload() {
    if (this.versionAsked) return;
    this.versionAsked = true;
    const ok = await confirmDialog(t('Restart required'),
      t('The server has been updated. Reload the page to use the new version?'), { ok: t('Reload'), cancel: t('Later') });
    if (ok) location.reload();
  }

  mediaError(err) {
    if (!err) {
      this.shell.setMediaNotice('');
      return;
    }
    const text = {
      denied: t('Camera / microphone access was denied. Allow access in your browser (usually an icon in the address bar), then try again. Chat and the people list work without it.'),
      nodevices: t('No camera or microphone was found. Connect one and try again; meanwhile others cannot see or hear you.'),
      busy: t('Your camera or microphone is in use by another program. Close it and try again.'),
      insecure: t('Camera and microphone need a secure (https) connection.'),
      failed: t('Failed to access camera/microphone.'),
    }[err.kind] || t('Failed to access camera/microphone.');
    this.shell.setMediaNotice(text, { retry: err.kind !== 'insecure' });
    this.render();
  }

  callEnded({ call, reason, remote, notice, wasConnected }) {
    const name = this.buddies.name(call.peerId);
    let text = '';
    let kind = 'info';
    if (call.auto || (this.rooms.isConference && call.conference)) {
      if (wasConnected && (remote || notice === 'failed')) text = t('%s left the call.', name);
    } else if (remote) {
      switch (reason) {
        case 'busy': text = t('%s is busy. Try again later.', name); kind = 'warn'; break;
        case 'reject': text = t('%s rejected your call.', name); kind = 'warn'; break;
        case 'pickuptimeout': text = t('%s does not pick up.', name); kind = 'warn'; break;
        case 'ringertimeout':
        case 'abort': text = t('%s called you.', name) + ' ' + t('(missed call)'); kind = 'warn'; break;
        case 'error': text = t('%s hung up because of an error.', name); kind = 'error'; break;
        case 'failed': text = t('The connection to %s failed.', name); kind = 'error'; break;
        case 'unload': text = t('%s closed the page. The call has ended.', name); break;
        case 'removed': text = t('%s was removed from the room.', name); break;
        default:
          if (!wasConnected && !call.outgoing) {
            text = `${t('%s called you.', name)} ${t('(missed call)')}`;
            kind = 'warn';
          } else {
            text = t('%s hung up.', name);
          }
      }
    } else {
      switch (notice) {
        case 'nopickup': text = t('%s does not pick up.', name); kind = 'warn'; break;
        case 'missed': text = t('You missed a call from %s.', name); kind = 'warn'; break;
        case 'rejected-by-me': text = t('You rejected the call from %s.', name); break;
        case 'failed': text = wasConnected ? t('The connection to %s was lost.', name) : t('Peer connection to %s failed. Check your network.', name); kind = 'error'; break;
        case 'setup': text = t('Failed to establish the peer connection with %s.', name); kind = 'error'; break;
        case 'hungup-by-me':
          text = wasConnected ? t('Call with %s ended.', name) : (call.outgoing ? t('Call to %s cancelled.', name) : t('You rejected the call from %s.', name));
          break;
        default: break;
      }
    }
    if (text) {
      if (kind === 'warn' || kind === 'error') this.sounds.play('prompt');
      toast(text, { kind, timeout: 9000 });
    }
  }
}

function iceServersFrom(self) {
  const servers = [];
  const stun = Array.isArray(self.Stun) ? self.Stun.filter(Boolean) : [];
  if (stun.length) servers.push({ urls: stun });
  const turn = self.Turn;
  if (turn && Array.isArray(turn.urls) && turn.urls.length) {
    servers.push({ urls: turn.urls, username: turn.username, credential: turn.password });
  }
  return servers;
}

async function boot() {
  try {
    await new App().start();
  } catch (err) {
    console.error(err);
    unsupported(t('The app could not start: %s', err.message));
  }
}

boot();
