// A read-only handle for browser tests (only when the server config enables app.testHooks).

import { gridShape } from './ui/stage.js';
import { crc32, encodeChunk, decodeChunk } from './chunks.js';
import { currentLanguage } from './i18n.js';

export function installTestHooks(app) {
  const chatLog = new Map(); // Mid -> list of states seen in order
  app.chat.on('message', (conv, msg) => {
    if (msg.own && msg.mid) chatLog.set(msg.mid, [msg.state || 'room']);
  });
  app.chat.on('state', (conv, msg) => {
    const list = chatLog.get(msg.mid) || [];
    if (list[list.length - 1] !== msg.state) list.push(msg.state);
    chatLog.set(msg.mid, list);
  });
  const dcLog = [];
  app.calls.on('talking', (call) => dcLog.push({ dir: 'in', peer: call.peerId, Type: 'Talking', Talking: call.talking }));
  app.calls.on('chat', (peerId, msg) => dcLog.push({ dir: 'in', peer: peerId, Type: 'Chat', Chat: msg.Chat }));
  const hooks = {
    get id() { return app.ownId(); },
    get token() { return app.channel.token; },
    get connected() { return app.channel.connected; },
    get room() { return app.rooms.current ? { ...app.rooms.current } : null; },
    get status() { return document.body.dataset.callState || ''; },
    get conferenceId() { return app.calls.conferenceId; },
    get calls() {
      return app.calls.shown().map((c) => ({
        peer: c.peerId,
        state: c.state,
        outgoing: c.outgoing,
        conference: c.conference,
        connectionState: c.pc ? c.pc.state : 'new',
        channel: c.pc && c.pc.dc ? c.pc.dc.readyState : 'none',
        talking: c.talking,
        sfu: !!c.sfu,
      }));
    },
    /** Peers we still hold a mesh call with (shown or not: mid-switch the SFU view may be shown). */
    get meshPeers() { return app.calls.list().map((c) => c.peerId); },
    get sfu() {
      const s = app.sfu;
      return { active: s.active, publishing: !!s.pub, subscribed: !!s.sub, peers: [...s.records.keys()],
        screens: [...s.screens.keys()], screenPublishing: !!s.screenPub,
        streams: s.streams.map((x) => `${x.Mid}:${String(x.Id).slice(0, 6)}:${x.Media}`),
        log: s.log.slice(),
        transceivers: s.sub ? s.sub.getTransceivers().map((t) => `${t.mid}:${t.currentDirection}:${t.receiver.track.muted}`) : [] };
    },
    sfuStats(peerId) { return app.sfu.stats(peerId); },
    /** A Left ({Left: id}) or Sfu ({Sfu: doc}) document, then a late track event of the offer before
     * it: the race of a leave or a stopped screen during a renegotiation. */
    sfuLateTrackAfter(doc) {
      const s = app.sfu;
      if (doc.Left) s.peerLeft(doc.Left);
      else s.mode(doc.Sfu);
      s._mapStreams();
      return { peers: [...s.records.keys()], screens: [...s.screens.keys()] };
    },
    /** What one peer received through the SFU: per kind, the inbound-rtp counters of its mids. */
    async sfuInbound(peerId) {
      const s = app.sfu;
      const rec = s.records.get(peerId);
      const out = { audioLevel: 0, audioEnergy: 0, audioPackets: 0, framesDecoded: 0, frameWidth: 0, frameHeight: 0, talking: false };
      if (!rec || !s.sub) return out;
      out.talking = rec.talking;
      (await s.sub.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp' || !rec.mids.includes(String(r.mid))) return;
        if (r.kind === 'audio') {
          out.audioLevel = Math.max(out.audioLevel, r.audioLevel || 0);
          out.audioEnergy += r.totalAudioEnergy || 0;
          out.audioPackets += r.packetsReceived || 0;
        } else if (r.kind === 'video') {
          out.framesDecoded += r.framesDecoded || 0;
          out.frameWidth = Math.max(out.frameWidth, r.frameWidth || 0);
          out.frameHeight = Math.max(out.frameHeight, r.frameHeight || 0);
        }
      });
      return out;
    },
    /** A peer's screen received through the SFU: inbound-rtp counters of its screen mids. */
    async sfuScreenInbound(peerId) {
      const s = app.sfu;
      const screen = s.screens.get(peerId);
      const out = { mids: screen ? screen.mids.slice() : [], framesDecoded: 0, bytesReceived: 0, frameWidth: 0 };
      if (!screen || !s.sub) return out;
      (await s.sub.getStats()).forEach((r) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'video' || !screen.mids.includes(String(r.mid))) return;
        out.framesDecoded += r.framesDecoded || 0;
        out.bytesReceived += r.bytesReceived || 0;
        out.frameWidth = Math.max(out.frameWidth, r.frameWidth || 0);
      });
      return out;
    },
    /** Our SFU publisher: the senders' tracks and per-encoding outbound counters (simulcast layers). */
    async sfuOutbound() {
      const s = app.sfu;
      const pc = s.pub;
      const out = { pc: pc ? (pc.__testId || (pc.__testId = Math.random().toString(36).slice(2))) : '', state: pc ? pc.connectionState : 'none',
        tracks: {}, video: [], audioBytes: 0 };
      if (!pc) return out;
      for (const [kind, sender] of Object.entries(s.senders)) out.tracks[kind] = sender.track ? sender.track.id : null;
      (await pc.getStats()).forEach((r) => {
        if (r.type !== 'outbound-rtp') return;
        if (r.kind === 'audio') out.audioBytes += r.bytesSent || 0;
        else out.video.push({ rid: r.rid || '', bytes: r.bytesSent || 0, frames: r.framesEncoded || 0,
          width: r.frameWidth || 0, active: r.active !== false });
      });
      out.video.sort((a, b) => a.rid.localeCompare(b.rid));
      return out;
    },
    /** Every PeerConnection of the page, for tests: [{role, outboundVideo, pair}] */
    async peerConnections() {
      const out = [];
      const look = async (role, pc) => {
        if (!pc) return;
        const report = await pc.getStats();
        let outboundVideo = 0;
        let pair = null;
        const byId = new Map();
        report.forEach((r) => byId.set(r.id, r));
        report.forEach((r) => {
          if (r.type === 'outbound-rtp' && r.kind === 'video' && (r.bytesSent || 0) > 0) outboundVideo += 1;
          if (r.type === 'transport' && r.selectedCandidatePairId) pair = byId.get(r.selectedCandidatePairId);
        });
        // Firefox has no transport stats: its selected pair is flagged on the pair itself
        if (!pair) report.forEach((r) => { if (r.type === 'candidate-pair' && (r.selected || (r.nominated && r.state === 'succeeded'))) pair = r; });
        const cand = (id) => { const c = byId.get(id); return c ? c.address || c.ip || '' : ''; };
        const port = (id) => { const c = byId.get(id); return c ? c.port || 0 : 0; };
        out.push({ role, outboundVideo, state: pc.connectionState,
          local: pair ? cand(pair.localCandidateId) : '', remote: pair ? cand(pair.remoteCandidateId) : '',
          remotePort: pair ? port(pair.remoteCandidateId) : 0 });
      };
      for (const c of app.calls.list()) if (c.pc) await look('mesh', c.pc.pc);
      await look('sfu-pub', app.sfu.pub);
      await look('sfu-sub', app.sfu.sub);
      await look('sfu-screen', app.sfu.screenPub);
      for (const p of app.tokens.peers.values()) await look(`token-${p.kind}`, p.pc.pc);
      return out;
    },
    get buddies() { return [...app.buddies.map.keys()]; },
    get chatStates() { return Object.fromEntries([...chatLog].map(([k, v]) => [k, [...v]])); },
    get dcMessages() { return dcLog.slice(-50); },
    get sounds() { return { ...app.sounds.played }; },
    get local() {
      const s = app.media.stream;
      return s ? s.getTracks().map((tr) => ({
        id: tr.id, kind: tr.kind, label: tr.label, enabled: tr.enabled, readyState: tr.readyState,
        settings: tr.getSettings(), constraints: tr.getConstraints(),
      })) : [];
    },
    get level() { return app.media.level; },
    get userid() { return app.accounts.userid; },
    get language() { return currentLanguage(); },
    get downloads() {
      return Object.fromEntries([...app.files.downloads].map(([k, d]) => [k, {
        state: d.state, error: d.error, count: d.count, chunks: d.info.chunks, bytes: d.bytes, connections: d.conns.size,
        sink: d.sink ? d.sink.kind : '',
      }]));
    },
    get shares() {
      return Object.fromEntries([...app.files.shares].map(([k, sh]) => [k, {
        name: sh.info.name, chunks: sh.info.chunks, unshared: sh.unshared, active: sh.active.length, completed: [...sh.completed],
        sent: sh.active.map((x) => x.sent.size),
      }]));
    },
    get tokenConnections() {
      return [...app.tokens.peers.values()].map((p) => ({ peer: p.peerId, token: p.token, kind: p.kind, initiator: p.initiator, open: p.open }));
    },
    get sharingScreen() { return app.screenshare.sharing; },
    get screenViews() { return [...app.screenshare.views.keys()]; },
    get notifications() { return [...app.notifier.shown]; },
    get skippedSounds() { return { ...app.sounds.skipped }; },
    setFileDelay(ms) { app.files.delay = ms; },
    setMemoryDownloads(on) { app.files.memoryOnly = !!on; },
    /** The browser's own "stop sharing" button: the capture track ends. */
    endScreenCapture() {
      const stream = app.screenshare.stream;
      if (!stream) return false;
      for (const track of stream.getTracks()) {
        track.stop();
        track.dispatchEvent(new Event('ended'));
      }
      return true;
    },
    crc32(bytes) { return crc32(new Uint8Array(bytes)); },
    encodeChunk(index, bytes) { return [...new Uint8Array(encodeChunk(index, new Uint8Array(bytes)))]; },
    decodeChunk(bytes) {
      try {
        const c = decodeChunk(new Uint8Array(bytes).buffer);
        return { index: c.index, crc: c.crc, payload: [...c.payload] };
      } catch (err) {
        return { error: err.kind || err.message };
      }
    },
    closeSocket() { app.channel.closeSocket(); },
    gridShape(n, width, height) { return gridShape(n, width, height); },
    getStats(peerId) { return app.calls.stats(peerId); },
    setCallTimeouts(pickupMs, ringerMs) {
      app.calls.pickupTimeout = pickupMs;
      app.calls.ringerTimeout = ringerMs;
    },
  };
  Object.defineProperty(window, '__spreedTest', { value: Object.freeze(hooks), configurable: false });
}
