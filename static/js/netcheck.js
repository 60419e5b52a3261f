// The connection check: which ICE candidates a peer connection can gather with the STUN and TURN
// servers the server gave us in Self, and a plain verdict. Host candidates mean the local network
// works, server-reflexive ones that STUN answers, relay ones that TURN works (the one that matters
// when people sit behind different NATs or strict firewalls).

const GATHER_TIMEOUT = 8000;
// Browsers keep trying a TURN server that does not answer (no error, no end of gathering), so the
// test also ends once no candidate came for a while; a working TURN server answers well within it.
const QUIET_TIME = 3000;

/** type, protocol, address and port of a candidate, from the object or its SDP line. */
export function describeCandidate(c) {
  const line = String(c.candidate || '');
  const parts = line.replace(/^candidate:/, '').split(/\s+/);
  const typIndex = parts.indexOf('typ');
  return {
    type: c.type || (typIndex > 0 ? parts[typIndex + 1] : ''),
    protocol: (c.protocol || parts[2] || '').toLowerCase(),
    address: c.address || c.ip || parts[4] || '',
    port: c.port || Number(parts[5]) || 0,
    relayProtocol: c.relayProtocol || '',
    url: c.url || '',
  };
}

/** Which kinds of servers the list has. */
export function serverKinds(iceServers) {
  const urls = (iceServers || []).flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls])).filter(Boolean).map(String);
  return {
    stun: urls.filter((u) => /^stuns?:/i.test(u)),
    turn: urls.filter((u) => /^turns?:/i.test(u)),
  };
}

/**
 * Gather candidates with the given servers. Resolves {candidates, errors, complete, ms}; errors are the
 * icecandidateerror events (TURN refusals and unreachable servers show up there).
 */
export function gatherCandidates(iceServers, { timeout = GATHER_TIMEOUT } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const candidates = [];
    const errors = [];
    let pc;
    try {
      pc = new RTCPeerConnection({ iceServers: iceServers || [], iceCandidatePoolSize: 0 });
    } catch (err) {
      resolve({ candidates, errors: [{ errorText: err.message, url: '', errorCode: 0 }], complete: false, ms: 0 });
      return;
    }
    let finished = false;
    const finish = (complete) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(quiet);
      pc.onicecandidate = pc.onicecandidateerror = pc.onicegatheringstatechange = null;
      pc.close();
      resolve({ candidates, errors, complete, ms: Math.round(performance.now() - started) });
    };
    const timer = setTimeout(() => finish(false), timeout);
    let quiet = 0;
    const waitQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), QUIET_TIME);
    };
    pc.onicecandidate = (ev) => {
      if (!ev.candidate) {
        finish(true);
        return;
      }
      if (ev.candidate.candidate) candidates.push(describeCandidate(ev.candidate));
      waitQuiet();
    };
    pc.onicecandidateerror = (ev) => {
      errors.push({ errorCode: ev.errorCode || 0, errorText: ev.errorText || '', url: ev.url || '' });
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') finish(true);
    };
    pc.createDataChannel('check');
    pc.createOffer().then((offer) => pc.setLocalDescription(offer)).catch((err) => {
      errors.push({ errorCode: 0, errorText: err.message, url: '' });
      finish(false);
    });
  });
}

/**
 * The verdict for a gathering result: {level: good|warn|bad, code} where code names the message the
 * UI shows (see ui/check.js).
 */
export function verdict(result, iceServers) {
  const kinds = serverKinds(iceServers);
  const count = (type) => result.candidates.filter((c) => c.type === type).length;
  const host = count('host');
  const srflx = count('srflx') + count('prflx');
  const relay = count('relay');
  const auth = result.errors.some((e) => e.errorCode === 401 || e.errorCode === 403 || e.errorCode === 437 || e.errorCode === 441);
  if (relay) return { level: 'good', code: 'relay-ok', host, srflx, relay };
  if (kinds.turn.length) return { level: 'bad', code: auth ? 'turn-auth' : 'turn-unreachable', host, srflx, relay };
  if (!host && !srflx) return { level: 'bad', code: 'no-candidates', host, srflx, relay };
  if (kinds.stun.length && !srflx) return { level: 'warn', code: 'stun-unreachable', host, srflx, relay };
  return { level: 'warn', code: 'no-turn', host, srflx, relay };
}
