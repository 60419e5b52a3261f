// Boot context: the JSON the server renders into <script id="globalcontext">, and URL helpers.

function readContext() {
  const node = document.getElementById('globalcontext');
  if (!node) return {};
  try {
    return JSON.parse(node.textContent || '{}') || {};
  } catch (err) {
    console.error('globalcontext is not valid JSON', err);
    return {};
  }
}

export const context = readContext();
export const cfg = Object.freeze({ ...(context.Cfg || {}) });

/** The base path every URL of the app lives under, always ending in '/'. */
export const basePath = (() => {
  let b = cfg.B || new URL(document.baseURI).pathname || '/';
  if (!b.endsWith('/')) b += '/';
  return b;
})();

export const testHooksEnabled = cfg.TestHooks === true;

/** ws(s)://<Host><B>ws, built from the context (the server knows its public host and scheme). */
export function websocketURL() {
  const ssl = typeof context.Ssl === 'boolean' ? context.Ssl : location.protocol === 'https:';
  const host = context.Host || location.host;
  return `${ssl ? 'wss' : 'ws'}://${host}${basePath}ws`;
}

/** Room name from the current location: the decoded path below the base. */
export function roomFromLocation(loc = location) {
  let path = loc.pathname;
  if (path.startsWith(basePath)) path = path.slice(basePath.length);
  else if (`${path}/` === basePath) path = '';
  return path.split('/').filter(Boolean).map((seg) => {
    try {
      return decodeURIComponent(seg);
    } catch {
      return seg;
    }
  }).join('/');
}

/** Path (relative to the base) for a room name: segments encoded, leading @ $ + kept as they are. */
export function roomPath(name) {
  return String(name || '').split('/').filter(Boolean).map((seg) => {
    const lead = /^[@$+]/.test(seg) ? seg[0] : '';
    return lead + encodeURIComponent(seg.slice(lead.length));
  }).join('/');
}

/** Absolute link to a room, suitable for sharing. */
export function roomURL(name) {
  return `${location.protocol}//${location.host}${basePath}${roomPath(name)}`;
}

/** A URL below the base (for REST and buddy images), resolved against <base href>. */
export function appURL(rel) {
  return new URL(rel, `${location.protocol}//${location.host}${basePath}`).toString();
}

/** A short user agent description like "Chrome 120", for Hello.Ua. */
export function userAgentName() {
  const ua = navigator.userAgent;
  const tests = [
    [/Edg\/(\d+)/, 'Edge'], [/Firefox\/(\d+)/, 'Firefox'], [/OPR\/(\d+)/, 'Opera'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'], [/Version\/(\d+).*Safari/, 'Safari'],
  ];
  for (const [re, name] of tests) {
    const m = ua.match(re);
    if (m) return `${name} ${m[1]}`;
  }
  return 'Browser';
}
