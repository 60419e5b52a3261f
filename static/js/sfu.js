// Conferences through the server's SFU (Janus, docs/sfu.md): we publish our camera once on one
// PeerConnection and receive everyone else on one subscriber PeerConnection (multistream). The
// server says when a room uses the SFU (Sfu documents); switching either way keeps the old links
// until the new ones carry pictures, so nobody's picture or sound goes away. A screen we share is
// a second published stream (its own PeerConnection, one video layer); the screens of others arrive
// on the subscriber connection beside their cameras (screenshare.js shows them).

import { Emitter } from './events.js';

const GATHER_WAIT = 1000; // ms we wait for our ICE candidates before sending an offer or answer
const TICK = 400; // ms between checks of talking, flowing pictures and tile sizes
const TALK_LEVEL = 0.04;
const MESH_OVERLAP_MAX = 15000; // ms the SFU stays up after a switch to mesh, at most (the server keeps it 20 s)
// simulcast layers, highest first (Janus's order); tiny sources are sent as one layer by the browser
const LAYERS = [
  { rid: 'f', maxBitrate: 900000 },
  { rid: 'h', maxBitrate: 300000, scaleResolutionDownBy: 2 },
  { rid: 'q', maxBitrate: 100000, scaleResolutionDownBy: 4 },
];

/** Whether this browser can take part (the capability we announce in Hello). */
export function sfuSupported() {
  return typeof RTCPeerConnection !== 'undefined' && typeof RTCRtpTransceiver !== 'undefined'
    && !globalThis.__spreedNoSfu;
}

function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, GATHER_WAIT);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Whether the peer's tile plays `stream` now (a tile hands over to a new stream at its first frame,
 * within seconds: see ui/handover.js); no tile, nothing to wait for. */
function tileShows(peerId, stream) {
  const video = document.querySelector(`.tile[data-peer="${CSS.escape(peerId)}"] video`);
  return !video || video.srcObject === stream;
}

/** What the stage and the status line need of a call, for a peer received through the SFU. */
class SfuView {
  constructor(sfu) {
    this.sfu = sfu;
    this.remoteStream = new MediaStream();
    this.dc = null;
    this.channelOpen = false;
    this.senders = {};
  }

  get state() {
    const pc = this.sfu.sub;
    if (!pc) return 'new';
    return pc.connectionState || pc.iceConnectionState;
  }

  send() { return false; }

  async replaceTrack() {}

  close() {}
}

class SfuCall {
  constructor(sfu, peerId) {
    this.peerId = peerId;
    this.sfu = true;
    this.outgoing = false;
    this.auto = true;
    this.conference = '';
    this.state = 'connecting';
    this.pc = new SfuView(sfu);
    this.talking = false;
    this.everConnected = false;
    this.disconnected = false;
    this.mids = [];
    this.decoded = 0;
    this.layer = -1;
    this.started = Date.now();
  }
}

export class Sfu extends Emitter {
  /** channel, media, calls, rooms; iceServers(); ownId(). */
  constructor({ channel, media, calls, rooms, iceServers, ownId }) {
    super();
    this.channel = channel;
    this.media = media;
    this.calls = calls;
    this.rooms = rooms;
    this.iceServers = iceServers;
    this.ownId = ownId;
    this.active = false; // the server told us: this room uses the SFU
    this.pub = null; // publisher PeerConnection
    this.sub = null; // subscriber PeerConnection
    this.records = new Map(); // peerId -> SfuCall
    this.ready = new Set(); // peers that told us (mesh data channel) they receive us through the SFU
    this.told = new Set(); // peers we told the same
    this.publishing = null;
    this.screenPub = null; // our screen's publisher PeerConnection
    this.screens = new Map(); // peerId -> {peerId, stream, mids}: screens received through the SFU
    this.ticking = false;
    this.timer = 0;
    this.overlapTimer = 0;
    this.streams = []; // the last SfuOffer's streams
    this.senders = {};
    this.log = []; // the last few things that happened, for diagnostics (test hooks)
    calls.sfu = this;
    media.on('track', (kind, track) => {
      if (kind === 'video' && media.videoMuted) return;
      this._replace(kind, track);
    });
    media.on('mute', (kind, muted) => {
      if (kind === 'video') this._replace('video', muted ? null : media.track('video'));
    });
    calls.on('channel-message', (peerId, msg) => {
      if (msg && msg.Type === 'SfuReady') {
        this.ready.add(peerId);
        this._tick();
      }
    });
  }

  /** Hello's Features: only when the server announced the SFU in Self and we can use it. */
  features() {
    const self = this.channel.self;
    return self && Array.isArray(self.Features) && self.Features.includes('sfu') && sfuSupported() ? ['sfu'] : [];
  }

  /** Peers shown through the SFU (the stage merges them with the mesh calls). */
  list() {
    return [...this.records.values()];
  }

  // ------------------------------------------------------------ documents from the server

  /** Sfu: {Mode: sfu|mesh, Reason, Feeds: [{Id, Kind}]}. */
  _note(what) {
    this.log.push(`${Math.round(performance.now())} ${what}`);
    if (this.log.length > 40) this.log.shift();
  }

  mode(doc) {
    if (!doc || typeof doc !== 'object') return;
    this._note(`mode ${doc.Mode} ${doc.Reason || ''} feeds=${Array.isArray(doc.Feeds) ? doc.Feeds.length : '-'}`);
    if (doc.Mode === 'sfu' && this._late(doc)) return;
    if (doc.Mode === 'sfu') {
      clearTimeout(this.overlapTimer);
      this.active = true;
      if (!this.pub && !this.publishing) this.publishing = this._publish().finally(() => { this.publishing = null; });
      if (Array.isArray(doc.Feeds)) {
        // a renegotiation still under way must not bring back what the server no longer has
        const feeds = new Set(doc.Feeds.filter((f) => f).map((f) => `${f.Kind} ${f.Id}`));
        this.streams = this.streams.filter((s) => s && feeds.has(`${s.Kind} ${s.Id}`));
        const live = new Set(doc.Feeds.filter((f) => f && f.Kind === 'camera').map((f) => f.Id));
        for (const id of [...this.records.keys()]) if (!live.has(id)) this._dropRecord(id);
        // a stopped screen goes at once, before Janus's next offer
        const screens = new Set(doc.Feeds.filter((f) => f && f.Kind === 'screen').map((f) => f.Id));
        let gone = false;
        for (const id of [...this.screens.keys()]) {
          if (!screens.has(id)) gone = this.screens.delete(id) || gone;
        }
        if (gone) this.emit('screens');
      }
      this._startTimer();
      this.calls.emit('change', null);
      this.emit('mode', 'sfu');
    } else if (doc.Mode === 'mesh') {
      const wasActive = this.active;
      this.active = false;
      this.emit('mode', 'mesh'); // before stop(): a shared screen moves to the mesh first
      if (doc.Reason === 'down' || doc.Reason === 'closed' || !this.records.size) this.stop();
      else {
        clearTimeout(this.overlapTimer);
        this.overlapTimer = setTimeout(() => this.stop(), MESH_OVERLAP_MAX);
      }
      if (wasActive) this.calls.redial();
    }
  }

  /** Sent before the server saw our Hello for another room: about the room we are leaving (no
   * camera, no publishing there any more). */
  _late(doc) {
    const rooms = this.rooms;
    if (!rooms || !rooms.current) return false;
    if (typeof doc.Room === 'string') return rooms.joining && doc.Room === rooms.current.Name;
    return rooms.wanted === '' && rooms.current.Name !== ''; // (a server that does not name the room)
  }

  /** Left: the peer's tile goes at once (its feed follows on the server's next offer). */
  peerLeft(peerId) {
    if (typeof peerId !== 'string') return;
    // (and its mids stay unmapped: an answer or track event of an earlier offer may still come)
    this.streams = this.streams.filter((s) => s && s.Id !== peerId);
    this._dropRecord(peerId);
    if (this.screens.delete(peerId)) this.emit('screens');
  }

  /** SfuOffer: Janus's offer for our subscriber connection, with which mid carries whom. */
  async offer(doc) {
    if (!doc || !doc.Offer || typeof doc.Offer.sdp !== 'string') return;
    this.streams = Array.isArray(doc.Streams) ? doc.Streams : [];
    this._note(`offer seq=${doc.Seq} streams=${this.streams.length} sub=${!!this.sub}`);
    try {
      if (!this.sub) this._makeSubscriber();
      const pc = this.sub;
      await pc.setRemoteDescription({ type: 'offer', sdp: doc.Offer.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await waitGathering(pc);
      this.channel.send('SfuAnswer', { Seq: doc.Seq, Answer: { type: 'answer', sdp: pc.localDescription.sdp } });
      this._mapStreams();
    } catch (err) {
      this._note(`answer failed ${err}`);
      console.warn('SFU: cannot answer the subscription', err);
    }
  }

  /** SfuEvent: Janus's hangup, slowlink or media events, relayed by the server. */
  event(doc) {
    if (!doc) return;
    this._note(`event ${doc.Event} ${doc.Role || ''}`);
    if (doc.Role === 'subscriber' && (doc.Event === 'hangup' || doc.Event === 'restart')) {
      this._closeSubscriber(); // Janus starts a fresh subscriber connection: a fresh offer follows
    }
    if (doc.Event === 'hangup' && doc.Role === 'publisher' && doc.Kind === 'screen') {
      this._closeScreenPublisher('hangup');
    } else if (doc.Event === 'hangup' && doc.Role === 'publisher' && this.active) {
      this._closePublisher();
      setTimeout(() => {
        if (this.active && !this.pub && !this.publishing) {
          this.publishing = this._publish().finally(() => { this.publishing = null; });
        }
      }, 1000);
    }
    this.emit('event', doc);
  }

  // ------------------------------------------------------------ publishing

  async _publish() {
    const stream = await this.media.ensure();
    if (!this.active || !stream) return;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers() || [] });
    this.pub = pc;
    this.senders = {};
    for (const kind of ['audio', 'video']) {
      const track = stream.getTracks().find((tr) => tr.kind === kind) || null;
      const init = { direction: 'sendonly', streams: [stream] };
      // simulcast only where the browser would send more than one layer (from 640x360 on)
      const size = track && track.getSettings ? track.getSettings() : {};
      if (kind === 'video' && (size.width || 0) >= 640) init.sendEncodings = LAYERS.map((l) => ({ ...l }));
      const tr = pc.addTransceiver(track || kind, init);
      this.senders[kind] = tr.sender;
      if (kind === 'video' && this.media.videoMuted) tr.sender.replaceTrack(null).catch(() => {});
    }
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && this.pub === pc) this.emit('event', { Event: 'failed', Role: 'publisher' });
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathering(pc);
      const reply = await this.channel.request('SfuPublish', { Kind: 'camera', Offer: { type: 'offer', sdp: pc.localDescription.sdp } }, 20000);
      const data = reply.Data || {};
      if (data.Type !== 'SfuAnswer' || this.pub !== pc) throw new Error(data.Message || 'no answer');
      await pc.setRemoteDescription(data.SfuAnswer.Answer);
    } catch (err) {
      console.warn('SFU: publishing failed', err);
      if (this.pub === pc) this._closePublisher();
    }
  }

  /**
   * Publish a shared screen as a second stream (one video layer, its own PeerConnection).
   * Resolves true once Janus answered; false when the room does not use the SFU (now) or it failed.
   */
  async publishScreen(stream) {
    const track = stream && stream.getVideoTracks()[0];
    if (!this.active || !track) return false;
    this._closeScreenPublisher('');
    const pc = new RTCPeerConnection({ iceServers: this.iceServers() || [] });
    this.screenPub = pc;
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' && this.screenPub === pc) this._closeScreenPublisher('failed');
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await waitGathering(pc);
      if (this.screenPub !== pc) return false;
      const reply = await this.channel.request('SfuPublish', { Kind: 'screen', Offer: { type: 'offer', sdp: pc.localDescription.sdp } }, 20000);
      const data = reply.Data || {};
      if (data.Type !== 'SfuAnswer' || this.screenPub !== pc) throw new Error(data.Message || 'no answer');
      await pc.setRemoteDescription(data.SfuAnswer.Answer);
      this._note('screen published');
      return true;
    } catch (err) {
      console.warn('SFU: publishing the screen failed', err);
      if (this.screenPub === pc) {
        this.screenPub = null;
        pc.onconnectionstatechange = null;
        pc.close();
      }
      return false;
    }
  }

  /** Stop publishing our screen (the server tells the others at once). */
  unpublishScreen() {
    if (!this.screenPub) return;
    if (this.channel.connected) this.channel.send('SfuUnpublish', { Kind: 'screen' });
    this._closeScreenPublisher('');
  }

  /** reason: '' (we closed it) or why it went away by itself (screenshare.js decides what next). */
  _closeScreenPublisher(reason) {
    const pc = this.screenPub;
    if (!pc) return;
    this.screenPub = null;
    pc.onconnectionstatechange = null;
    pc.close();
    if (reason) this.emit('screen-lost', reason);
  }

  _replace(kind, track) {
    const sender = this.senders[kind];
    if (sender) sender.replaceTrack(track).catch(() => {});
  }

  _closePublisher() {
    if (!this.pub) return;
    this.pub.onconnectionstatechange = null;
    this.pub.close();
    this.pub = null;
    this.senders = {};
  }

  // ------------------------------------------------------------ receiving

  _closeSubscriber() {
    if (!this.sub) return;
    this.sub.ontrack = this.sub.onconnectionstatechange = null;
    this.sub.close();
    this.sub = null;
  }

  _makeSubscriber() {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers() || [] });
    this.sub = pc;
    pc.ontrack = () => this._mapStreams();
    pc.onconnectionstatechange = () => {
      for (const rec of this.records.values()) this.calls.emit('tracks', rec);
    };
  }

  /** Give each peer a stream of the tracks whose mids carry it (mids get reused by Janus). */
  _mapStreams() {
    const pc = this.sub;
    if (!pc) return;
    const byMid = new Map(pc.getTransceivers().filter((t) => t.mid !== null).map((t) => [t.mid, t]));
    const perPeer = new Map();
    const screens = new Map();
    for (const s of this.streams) {
      if (!s || (s.Kind !== 'camera' && s.Kind !== 'screen') || typeof s.Id !== 'string') continue;
      const tr = byMid.get(String(s.Mid));
      if (!tr || !tr.receiver.track) continue;
      const into = s.Kind === 'camera' ? perPeer : screens;
      if (!into.has(s.Id)) into.set(s.Id, []);
      into.get(s.Id).push({ mid: String(s.Mid), track: tr.receiver.track });
    }
    this._mapScreens(screens);
    for (const id of [...this.records.keys()]) if (!perPeer.has(id)) this._dropRecord(id);
    for (const [id, entries] of perPeer) {
      let rec = this.records.get(id);
      const added = !rec;
      if (!rec) {
        rec = new SfuCall(this, id);
        rec.conference = this.calls.conferenceId;
        this.records.set(id, rec);
      }
      const tracks = entries.map((e) => e.track);
      rec.mids = entries.map((e) => e.mid);
      const now = rec.pc.remoteStream.getTracks();
      if (now.length !== tracks.length || tracks.some((t) => !now.includes(t))) {
        rec.pc.remoteStream = new MediaStream(tracks);
        for (const t of tracks) {
          t.onunmute = () => this.calls.emit('tracks', rec);
          t.onmute = () => this.calls.emit('tracks', rec);
        }
      }
      if (added) this.calls.emit('change', null);
      this.calls.emit('tracks', rec);
    }
    this._tick();
  }

  /** Screens: one stream per sharing peer, a new stream object whenever its tracks change. */
  _mapScreens(found) {
    let changed = false;
    for (const id of [...this.screens.keys()]) {
      if (!found.has(id)) changed = this.screens.delete(id) || changed;
    }
    for (const [id, entries] of found) {
      const tracks = entries.filter((e) => e.track.kind === 'video').map((e) => e.track);
      if (!tracks.length) continue;
      const had = this.screens.get(id);
      const now = had ? had.stream.getTracks() : [];
      if (had && now.length === tracks.length && tracks.every((t) => now.includes(t))) continue;
      this.screens.set(id, { peerId: id, stream: new MediaStream(tracks), mids: entries.map((e) => e.mid) });
      changed = true;
    }
    if (changed) this.emit('screens');
  }

  _dropRecord(id) {
    const rec = this.records.get(id);
    if (!rec) return;
    this.records.delete(id);
    this.ready.delete(id);
    this.told.delete(id);
    rec.state = 'closed';
    this.calls.emit('change', null);
  }

  /** Our view of a peer through the SFU is live: its pictures are decoded (or it sends no video). */
  _flowing(rec) {
    const tracks = rec.pc.remoteStream.getTracks();
    const video = tracks.find((t) => t.kind === 'video');
    return !!this.sub && this.sub.connectionState === 'connected' && tracks.length > 0
      && (!video || (!video.muted && rec.decoded > 0));
  }

  // ------------------------------------------------------------ the periodic check

  _startTimer() {
    if (!this.timer) this.timer = setInterval(() => this._tick(), TICK);
  }

  async _tick() {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this._check();
    } finally {
      this.ticking = false;
    }
  }

  /** Per mid of the subscriber connection: frames decoded and audio level. */
  async _inbound() {
    const out = new Map();
    if (!this.sub) return out;
    let report;
    try {
      report = await this.sub.getStats();
    } catch {
      return out;
    }
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.mid !== undefined) {
        out.set(String(s.mid), { frames: s.framesDecoded || 0, level: s.audioLevel || 0 });
      }
    });
    return out;
  }

  async _check() {
    const inbound = await this._inbound();
    let changed = false;
    for (const rec of this.records.values()) {
      rec.decoded = rec.mids.reduce((n, m) => n + ((inbound.get(m) || {}).frames || 0), 0);
      const talking = rec.mids.some((m) => ((inbound.get(m) || {}).level || 0) > TALK_LEVEL);
      if (talking !== rec.talking) {
        rec.talking = talking;
        this.calls.emit('talking', rec);
      }
    }
    for (const rec of this.records.values()) {
      const flowing = this._flowing(rec);
      const state = flowing ? 'connected' : 'connecting';
      if (rec.state !== state) {
        rec.state = state;
        if (flowing) rec.everConnected = true;
        changed = true;
      }
      if (!flowing || !this.active) continue;
      this._layerFor(rec);
      // mesh -> SFU: once our tile plays the SFU stream, tell the peer over the mesh link, and drop
      // that link once both do (so neither picture is cut before its replacement is on screen)
      const mesh = this.calls.get(rec.peerId);
      if (mesh && mesh.everConnected && !tileShows(rec.peerId, rec.pc.remoteStream)) continue;
      if (mesh && mesh.pc && !this.told.has(rec.peerId) && mesh.pc.send({ Type: 'SfuReady' })) this.told.add(rec.peerId);
      // (a mesh link that never connected carries nothing: the SFU replaces it at once)
      if (mesh && (this.ready.has(rec.peerId) || !mesh.everConnected)) this.calls.drop(rec.peerId, 'sfu');
    }
    if (!this.active && this.records.size) {
      // SFU -> mesh: stop once every peer we had through the SFU is connected on the mesh, its tile
      // playing the mesh stream
      const pending = this.list().some((r) => {
        const c = this.calls.get(r.peerId);
        return !c || c.state !== 'connected' || !tileShows(r.peerId, c.pc && c.pc.remoteStream);
      });
      if (!pending) this.stop();
    }
    if (changed) this.calls.emit('change', null);
  }

  /** Each tile asks for the simulcast layer that fits its size (0 smallest .. 2 largest). */
  _layerFor(rec) {
    const tile = document.querySelector(`.tile[data-peer="${CSS.escape(rec.peerId)}"] video`);
    if (!tile) return;
    const w = tile.clientWidth * (window.devicePixelRatio || 1);
    const layer = w >= 480 ? 2 : w >= 200 ? 1 : 0;
    if (layer === rec.layer) return;
    rec.layer = layer;
    this.channel.send('SfuLayer', { Id: rec.peerId, Kind: 'camera', Substream: layer });
  }

  /** Inbound counters of one peer received through the SFU (tests and diagnostics). */
  async stats(peerId) {
    const rec = this.records.get(peerId);
    const out = { framesDecoded: 0, bytesReceived: 0, frameWidth: 0, audioPackets: 0 };
    if (!rec || !this.sub) return out;
    const report = await this.sub.getStats();
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp' || !rec.mids.includes(String(s.mid))) return;
      out.bytesReceived += s.bytesReceived || 0;
      if (s.kind === 'audio') out.audioPackets += s.packetsReceived || 0;
      if (s.kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
      }
    });
    return out;
  }

  // ------------------------------------------------------------ ending

  /** Close both connections and forget the SFU peers (leaving, Janus gone, back on mesh). */
  stop() {
    this._note('stop');
    clearTimeout(this.overlapTimer);
    clearInterval(this.timer);
    this.timer = 0;
    if ((this.pub || this.sub) && this.channel.connected) this.channel.send('SfuUnpublish', { Kind: 'camera' });
    if (this.screenPub && this.channel.connected) this.channel.send('SfuUnpublish', { Kind: 'screen' });
    this._closePublisher();
    this._closeSubscriber();
    this._closeScreenPublisher('stopped');
    if (this.screens.size) {
      this.screens.clear();
      this.emit('screens');
    }
    const had = this.records.size;
    this.records.clear();
    this.ready.clear();
    this.told.clear();
    this.streams = [];
    if (had) this.calls.emit('change', null);
  }

  /** Leaving the room. */
  leave() {
    this.active = false;
    this.stop();
  }
}
