// The stage: welcome page or lobby when not in a call; otherwise the video grid of remote tiles,
// the own preview with its audio level, the incoming-call card and fullscreen.

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t, N_ } from '../i18n.js';
import { roomURL } from '../config.js';
import { ScreenViews } from './screens.js';
import { handOver, cancelHandover } from './handover.js';

const STATE_TEXT = {
  media: N_('Waiting for camera and microphone…'),
  calling: N_('Calling…'),
  accepting: N_('Connecting…'),
  connecting: N_('Connecting…'),
};

const GAP = 8;

/**
 * Columns and rows for n tiles in a W×H area: the arrangement that shows the most of 16:9 videos.
 * A shorter last row is centred by the caller (each tile spans two of 2×cols grid columns).
 */
export function gridShape(n, W, H, gap = GAP) {
  let best = { cols: 1, rows: n, area: -1 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = (W - gap * (cols - 1)) / cols;
    const h = (H - gap * (rows - 1)) / rows;
    const area = Math.min(w, (h * 16) / 9) * Math.min(h, (w * 9) / 16);
    if (area > best.area * 1.02) best = { cols, rows, area };
  }
  return { cols: best.cols, rows: best.rows };
}

function avatar(url, cls = 'avatar') {
  if (url) return h('img', { class: cls, src: url, alt: '', draggable: 'false' });
  return h('span', { class: `${cls} avatar-empty` }, icon('user'));
}

export class Stage {
  constructor(app, el) {
    this.app = app;
    this.el = el;
    this.tiles = new Map();
    this.mode = '';
    this.soundBlocked = false;
    this.build();
  }

  build() {
    const app = this.app;
    this.welcomeSlot = h('div', { class: 'stage-welcome', hidden: true });
    this.lobby = this.buildLobby();
    this.grid = h('div', { class: 'grid', dataset: { count: '0' } });
    this.selfVideo = h('video', { class: 'self-video', autoplay: true, playsInline: true, muted: true });
    this.selfVideo.setAttribute('playsinline', '');
    this.levelBar = h('span', { class: 'level-bar' });
    this.self = h('div', { class: 'self', hidden: true },
      this.selfVideo,
      h('div', { class: 'self-off' }, icon('camOff')),
      h('span', { class: 'self-name', text: t('You') }),
      h('div', { class: 'level', id: 'audiolevel', title: t('Your microphone level') }, this.levelBar));
    this.callArea = h('div', { class: 'call-area', hidden: true }, this.grid, this.self);
    this.screens = new ScreenViews(app, this);
    this.callArea.prepend(this.screens.el);
    this.callArea.append(this.screens.ownBar);
    this.incoming = h('div', { class: 'incoming', hidden: true, role: 'alertdialog', 'aria-live': 'assertive' });
    this.soundBtn = h('button', { class: 'btn btn-primary sound-unblock', type: 'button', hidden: true }, icon('speaker'), h('span', { text: t('Turn on sound') }));
    this.soundBtn.addEventListener('click', () => this.unblockSound());
    this.fsExit = h('button', { class: 'icon-btn fs-exit', type: 'button', title: t('Exit fullscreen'), 'aria-label': t('Exit fullscreen') }, icon('close'));
    this.fsExit.addEventListener('click', () => this.toggleFullscreen());
    this.el.append(this.welcomeSlot, this.lobby, this.callArea, this.incoming, this.soundBtn, this.fsExit);
    this.el.addEventListener('dblclick', (ev) => {
      if (ev.target.closest('.tile, .self')) this.toggleFullscreen();
    });
    app.media.on('stream', () => this.syncSelf());
    app.media.on('stopped', () => this.syncSelf());
    app.media.on('mute', () => this.syncSelf());
    app.media.on('level', (level) => {
      this.levelBar.style.width = `${Math.round(level)}%`;
    });
    app.media.on('talking', (talking) => this.self.classList.toggle('talking', talking));
    setInterval(() => this.watchFrames(), 1000);
    if (typeof ResizeObserver === 'function') new ResizeObserver(() => this.layout()).observe(this.grid);
    else window.addEventListener('resize', () => this.layout());
  }

  buildLobby() {
    const app = this.app;
    this.lobbyRoom = h('h1', { class: 'lobby-room' });
    this.lobbyText = h('p', { class: 'lobby-text' });
    this.lobbyLink = h('input', { class: 'input lobby-link-input', readOnly: true, 'aria-label': t('Room link') });
    this.lobbyLink.readOnly = true;
    this.lobbyLink.addEventListener('focus', () => this.lobbyLink.select());
    const copy = h('button', { class: 'btn', type: 'button' }, icon('copy'), h('span', { text: t('Copy link') }));
    copy.addEventListener('click', () => app.copyRoomLink());
    this.lobbyTip = h('p', { class: 'lobby-tip' },
      h('span', { text: t('Tip: set your name and picture so others know who you are.') }), ' ',
      h('button', { class: 'link-btn', type: 'button', text: t('Open settings'), on: { click: () => app.openSettings() } }));
    const people = h('button', { class: 'btn btn-primary lobby-people', type: 'button' }, icon('users'), h('span', { text: t('Show people') }));
    people.addEventListener('click', () => app.shell.openSide('people'));
    return h('div', { class: 'lobby', hidden: true },
      h('div', { class: 'lobby-card' }, this.lobbyRoom, this.lobbyText,
        h('div', { class: 'lobby-link' }, this.lobbyLink, copy), people, this.lobbyTip));
  }

  /** welcome (no room), lobby (room, no call), call (video grid). */
  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.el.dataset.mode = mode;
    show(this.welcomeSlot, mode === 'welcome');
    show(this.lobby, mode === 'lobby');
    show(this.callArea, mode === 'call');
    this.syncSelf();
  }

  renderLobby() {
    const app = this.app;
    const room = app.rooms.name;
    setText(this.lobbyRoom, room ? room : t('Default room'));
    const n = app.buddies.map.size;
    setText(this.lobbyText, n === 0
      ? t('No one else is here yet. Invite someone with this link:')
      : (n === 1 ? t('1 other person is here. Call or chat from the people list, or share this link:')
        : t('%s other people are here. Call or chat from the people list, or share this link:', n)));
    const link = roomURL(room || '');
    if (this.lobbyLink.value !== link) this.lobbyLink.value = link;
    show(this.lobbyTip, !app.profile.get('name'));
  }

  // ------------------------------------------------------------ tiles

  sync() {
    const calls = this.app.calls.shown().filter((c) => c.state !== 'ringing');
    const ids = new Set(calls.map((c) => c.peerId));
    for (const [id, tile] of this.tiles) {
      if (!ids.has(id)) {
        cancelHandover(tile);
        tile.video.srcObject = null;
        tile.el.remove();
        this.tiles.delete(id);
      }
    }
    for (const call of calls) {
      if (!this.tiles.has(call.peerId)) this.tiles.set(call.peerId, this.makeTile(call));
      this.updateTile(call);
    }
    this.grid.dataset.count = String(this.tiles.size);
    this.layout();
    this.callArea.classList.toggle('solo', this.tiles.size === 0);
    this.syncIncoming();
    this.syncSelf();
  }

  /** Arrange the tiles for the current stage size (see gridShape). */
  layout() {
    const n = this.tiles.size;
    const grid = this.grid;
    if (!n || !grid.clientWidth || !grid.clientHeight) return;
    const { cols, rows } = gridShape(n, grid.clientWidth, grid.clientHeight);
    grid.style.gridTemplateColumns = `repeat(${cols * 2}, minmax(0, 1fr))`;
    grid.style.gridTemplateRows = `repeat(${rows}, minmax(0, 1fr))`;
    const last = n - (rows - 1) * cols;
    [...grid.children].forEach((el, i) => {
      const firstOfShortLastRow = last < cols && i === (rows - 1) * cols;
      el.style.gridColumn = `${firstOfShortLastRow ? cols - last + 1 : 'auto'} / span 2`;
    });
  }

  /** A tile's <video>: its events update the tile (a tile gets a second one while it changes stream). */
  makeVideo(tile) {
    const video = h('video', { class: 'tile-video', autoplay: true, playsInline: true });
    video.setAttribute('playsinline', '');
    for (const ev of ['resize', 'loadeddata', 'playing', 'emptied']) video.addEventListener(ev, () => this.updateVideoState(tile));
    return video;
  }

  makeTile(call) {
    const tile = { el: null, video: null, name: null, state: null, pic: null, picURL: null, stream: null,
      lastFrames: -1, stall: 0, stalled: false, standby: null, standbyTimer: 0 };
    const video = this.makeVideo(tile);
    const name = h('span', { class: 'tile-name' });
    const state = h('span', { class: 'tile-state' });
    const pic = h('span', { class: 'tile-avatar' });
    const chatBtn = h('button', { class: 'icon-btn tile-chat', type: 'button', title: t('Chat'), 'aria-label': t('Chat') }, icon('chat'));
    chatBtn.addEventListener('click', () => this.app.openChat(call.peerId));
    const el = h('div', { class: 'tile novideo', dataset: { peer: call.peerId } },
      video,
      h('div', { class: 'tile-placeholder' }, pic, state),
      h('div', { class: 'tile-bar' }, h('span', { class: 'talk-dot', 'aria-hidden': 'true' }), name),
      chatBtn);
    Object.assign(tile, { el, video, name, state, pic });
    this.grid.append(el);
    return tile;
  }

  updateTile(call) {
    const tile = this.tiles.get(call.peerId);
    if (!tile || !this.app.calls.isShown(call)) return; // (the peer's other connection, mid-switch)
    const app = this.app;
    setText(tile.name, app.buddies.name(call.peerId));
    const url = app.buddies.pictureOf(call.peerId);
    if (tile.picURL !== url) {
      tile.picURL = url;
      clear(tile.pic).append(avatar(url, 'avatar avatar-large'));
    }
    let stateText = STATE_TEXT[call.state] ? t(STATE_TEXT[call.state]) : '';
    if (call.state === 'connected' && call.disconnected) stateText = t('Connection lost, waiting…');
    setText(tile.state, stateText);
    tile.el.classList.toggle('talking', !!call.talking);
    tile.el.classList.toggle('pending', call.state !== 'connected');
    const stream = call.pc ? call.pc.remoteStream : null;
    if (tile.stream !== stream) {
      tile.stream = stream;
      const start = (video) => {
        this.applySpeaker(video);
        this.play(video);
      };
      handOver(tile, stream, () => this.makeVideo(tile), start, () => this.updateVideoState(tile));
    }
    this.updateVideoState(tile);
  }

  updateVideoState(tile) {
    const stream = tile.video.srcObject; // (the one on screen: mid-handover the new one waits unseen)
    const track = stream && stream.getVideoTracks().find((tr) => tr.readyState === 'live');
    const hasVideo = !!track && !track.muted && tile.video.videoWidth > 0 && !tile.stalled;
    tile.el.classList.toggle('novideo', !hasVideo);
  }

  /**
   * Once a second: a remote video whose frames stopped (camera off, sender gone) shows the placeholder.
   * Frames count as arriving while the element's playback counter or the connection's decoded-frame
   * counter moves: Firefox leaves totalVideoFrames at 0 for live streams.
   */
  watchFrames() {
    for (const [peerId, tile] of this.tiles) {
      const v = tile.video;
      const call = this.app.calls.get(peerId);
      const pc = call && call.pc;
      const decoded = !!pc && typeof pc.framesDecoded === 'function';
      const played = typeof v.getVideoPlaybackQuality === 'function';
      if (!tile.stream || (!played && !decoded)) continue;
      if (decoded) pc.framesDecoded().then((n) => { tile.decoded = n; }, () => {});
      const frames = `${played ? v.getVideoPlaybackQuality().totalVideoFrames : 0}/${tile.decoded || 0}`;
      if (frames !== tile.lastFrames) {
        tile.lastFrames = frames;
        tile.stall = 0;
      } else {
        tile.stall = (tile.stall || 0) + 1;
      }
      const stalled = tile.stall >= 2;
      if (stalled !== tile.stalled) {
        tile.stalled = stalled;
        this.updateVideoState(tile);
      }
    }
  }

  play(video) {
    const p = video.play();
    if (p && p.catch) {
      p.catch((err) => {
        if (err && err.name === 'NotAllowedError' && !video.muted) {
          // autoplay with sound refused: play muted and offer a button to turn sound on
          video.muted = true;
          video.play().catch(() => {});
          this.soundBlocked = true;
          show(this.soundBtn, true);
        }
      });
    }
  }

  unblockSound() {
    this.soundBlocked = false;
    show(this.soundBtn, false);
    for (const tile of this.tiles.values()) {
      tile.video.muted = false;
      tile.video.play().catch(() => {});
    }
  }

  applySpeaker(video) {
    const id = this.app.profile.get('speaker');
    if (id && typeof video.setSinkId === 'function') video.setSinkId(id).catch(() => {});
  }

  applySpeakerAll() {
    for (const tile of this.tiles.values()) this.applySpeaker(tile.video);
  }

  // ------------------------------------------------------------ own preview

  syncSelf() {
    const media = this.app.media;
    const visible = this.mode === 'call' && !!media.stream;
    show(this.self, visible);
    const stream = visible ? media.stream : null;
    if (this.selfVideo.srcObject !== stream) {
      this.selfVideo.srcObject = stream;
      if (stream) this.selfVideo.play().catch(() => {});
    }
    const hasVideo = !!(media.stream && media.stream.getVideoTracks().length);
    this.self.classList.toggle('camera-off', media.videoMuted || !hasVideo);
    this.self.classList.toggle('mic-off', media.audioMuted);
  }

  // ------------------------------------------------------------ incoming call card

  syncIncoming() {
    const ringing = this.app.calls.list().find((c) => c.state === 'ringing');
    if (!ringing) {
      show(this.incoming, false);
      this.incomingFor = null;
      return;
    }
    if (this.incomingFor === ringing.peerId && !this.incoming.hidden) return;
    this.incomingFor = ringing.peerId;
    const app = this.app;
    const name = app.buddies.name(ringing.peerId);
    const accept = h('button', { class: 'btn btn-accept btn-big', type: 'button', dataset: { action: 'accept' } }, icon('phone'), h('span', { text: t('Accept') }));
    const reject = h('button', { class: 'btn btn-reject btn-big', type: 'button', dataset: { action: 'reject' } }, icon('hangup'), h('span', { text: t('Reject') }));
    accept.addEventListener('click', () => app.calls.accept(ringing.peerId));
    reject.addEventListener('click', () => app.calls.reject(ringing.peerId));
    clear(this.incoming).append(h('div', { class: 'incoming-card' },
      h('div', { class: 'incoming-avatar ringing-pulse' }, avatar(app.buddies.pictureOf(ringing.peerId), 'avatar avatar-large')),
      h('p', { class: 'incoming-title', text: t('Incoming call') }),
      h('p', { class: 'incoming-name', text: name }),
      h('div', { class: 'incoming-buttons' }, reject, accept)));
    show(this.incoming, true);
    accept.focus();
  }

  // ------------------------------------------------------------ fullscreen

  /** Fullscreen for an element (the stage on double-click, the whole app from the tool bar). */
  toggleFullscreen(target = this.el) {
    const doc = document;
    if (doc.fullscreenElement || doc.webkitFullscreenElement) {
      (doc.exitFullscreen || doc.webkitExitFullscreen).call(doc);
      return;
    }
    const req = target.requestFullscreen || target.webkitRequestFullscreen;
    if (req) {
      const r = req.call(target);
      if (r && r.catch) r.catch(() => {});
    } else {
      // iPhone Safari: only a video element can go fullscreen (the target's own, else the first tile's)
      const own = target.querySelector && target.querySelector('video');
      const first = this.tiles.values().next().value;
      const video = own && own.webkitEnterFullscreen ? own : first && first.video;
      if (video && video.webkitEnterFullscreen) video.webkitEnterFullscreen();
    }
  }
}
