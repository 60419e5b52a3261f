// Line icons drawn for this client: 24x24 view box, stroked with the current text colour.

const SVG = 'http://www.w3.org/2000/svg';

const P = (d) => ['path', { d }];
const C = (cx, cy, r) => ['circle', { cx, cy, r }];
const R = (x, y, width, height, rx) => ['rect', { x, y, width, height, rx }];

const HANDSET = 'M6.5 3.5h2.8l1.6 4.4-2.1 1.4a11 11 0 0 0 5.9 5.9l1.4-2.1 4.4 1.6v2.8a2 2 0 0 1-2.1 2A15.5 15.5 0 0 1 4.5 5.6a2 2 0 0 1 2-2.1z';

const SHAPES = {
  mic: [R(9, 3, 6, 11, 3), P('M5.5 11a6.5 6.5 0 0 0 13 0'), P('M12 17.5V21'), P('M8.5 21h7')],
  micOff: [R(9, 3, 6, 11, 3), P('M5.5 11a6.5 6.5 0 0 0 13 0'), P('M12 17.5V21'), P('M8.5 21h7'), ['path', { d: 'M3.5 3.5l17 17', class: 'slash' }]],
  cam: [R(3, 6.5, 12.5, 11, 2), P('M15.5 10.5 21 7.5v9l-5.5-3z')],
  camOff: [R(3, 6.5, 12.5, 11, 2), P('M15.5 10.5 21 7.5v9l-5.5-3z'), ['path', { d: 'M3.5 3.5l17 17', class: 'slash' }]],
  phone: [P(HANDSET)],
  hangup: [['path', { d: HANDSET, transform: 'rotate(135 12 12)' }]],
  chat: [P('M4 5.5h16v10.5H10l-4.5 3.5V16H4z'), P('M8 9.5h8'), P('M8 12.5h5')],
  users: [C(9, 8, 3.2), P('M3 19.5c0-3.4 2.7-5.8 6-5.8s6 2.4 6 5.8'), C(17, 9, 2.4), P('M16 13.9c2.8.1 5 2.3 5 5.6')],
  settings: [P('M4 6h9'), P('M17 6h3'), C(15, 6, 2), P('M4 12h3'), P('M11 12h9'), C(9, 12, 2), P('M4 18h11'), P('M19 18h1'), C(17, 18, 2)],
  link: [P('M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1'), P('M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1')],
  lock: [R(5, 10.5, 14, 10, 2), P('M8 10.5V7.5a4 4 0 0 1 8 0v3'), P('M12 14.5v2.5')],
  unlock: [R(5, 10.5, 14, 10, 2), P('M8 10.5V7.5a4 4 0 0 1 7.6-1.7'), P('M12 14.5v2.5')],
  leave: [P('M10 4H5v16h5'), P('M14.5 8l4 4-4 4'), P('M18.5 12H9.5')],
  refresh: [P('M19.5 12.5a7.5 7.5 0 1 1-2.2-6.1'), P('M19.5 4v4.5H15')],
  fullscreen: [P('M4 9V4h5'), P('M15 4h5v5'), P('M20 15v5h-5'), P('M9 20H4v-5')],
  close: [P('M6 6l12 12'), P('M18 6 6 18')],
  send: [P('M4 11.5 20 4l-6.5 16-2.3-6.2z'), P('M11.2 13.8 20 4')],
  camera: [P('M4 8h3.2l1.8-2.5h6l1.8 2.5H20v11H4z'), C(12, 13, 3.4)],
  upload: [P('M12 15.5V4.5'), P('M7.5 9 12 4.5 16.5 9'), P('M4.5 19.5h15')],
  trash: [P('M5 7h14'), P('M9.5 7V4.5h5V7'), P('M7 7l1 13h8l1-13')],
  check: [P('M5 12.5l4.2 4.2L19 7')],
  checks: [P('M2.5 12.5l4 4 8.5-9'), P('M11 16l.6.5L21 7.5')],
  clock: [C(12, 12, 8.5), P('M12 7.5V12l3 2')],
  speaker: [P('M4 9.5h3.5L12.5 5.5v13l-5-4H4z'), P('M15.5 9a4.2 4.2 0 0 1 0 6'), P('M18 6.5a8 8 0 0 1 0 11')],
  user: [C(12, 8.5, 4), P('M4.5 20.5c.4-4 3.6-6.5 7.5-6.5s7.1 2.5 7.5 6.5')],
  warning: [P('M12 3.5 21.5 20h-19z'), P('M12 10v4.5'), P('M12 17.3v.2')],
  share: [C(18, 5.5, 2.5), C(6, 12, 2.5), C(18, 18.5, 2.5), P('M8.2 10.8l7.6-4.1'), P('M8.2 13.2l7.6 4.1')],
  mail: [R(3, 5.5, 18, 13, 2), P('M3.5 7l8.5 6 8.5-6')],
  edit: [P('M4.5 19.5h4l10-10-4-4-10 10z'), P('M13 7l4 4')],
  copy: [R(8.5, 8.5, 11, 11, 2), P('M15.5 8.5V5.5a1.5 1.5 0 0 0-1.5-1.5H6a1.5 1.5 0 0 0-1.5 1.5V14a1.5 1.5 0 0 0 1.5 1.5h2.5')],
  enter: [P('M14 4h5v16h-5'), P('M9.5 8l4 4-4 4'), P('M13.5 12H4')],
  screen: [R(3, 4.5, 18, 12, 2), P('M9 20h6'), P('M12 16.5V20'), P('M12 13V8'), P('M9.5 10.5 12 8l2.5 2.5')],
  screenOff: [R(3, 4.5, 18, 12, 2), P('M9 20h6'), P('M12 16.5V20'), ['path', { d: 'M3.5 3.5l17 17', class: 'slash' }]],
  file: [P('M6 3.5h8l4.5 4.5v12.5H6z'), P('M14 3.5V8h4.5'), P('M9 13h6'), P('M9 16.5h4')],
  attach: [P('M19 11.5l-7 7a4.6 4.6 0 0 1-6.5-6.5l7.5-7.5a3 3 0 0 1 4.3 4.3l-7.4 7.4a1.5 1.5 0 0 1-2.1-2.1l6.7-6.7')],
  download: [P('M12 4.5v11'), P('M7.5 11 12 15.5 16.5 11'), P('M4.5 19.5h15')],
  stop: [R(6, 6, 12, 12, 2)],
  bell: [P('M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15z'), P('M10 20.5a2 2 0 0 0 4 0')],
  globe: [C(12, 12, 8.5), P('M3.5 12h17'), P('M12 3.5c2.4 2.3 3.5 5.2 3.5 8.5s-1.1 6.2-3.5 8.5c-2.4-2.3-3.5-5.2-3.5-8.5s1.1-6.2 3.5-8.5z')],
  signIn: [P('M14 4h5v16h-5'), P('M9.5 8l4 4-4 4'), P('M13.5 12H4')],
  signOut: [P('M10 4H5v16h5'), P('M14.5 8l4 4-4 4'), P('M18.5 12H9.5')],
  key: [C(8, 15, 3.8), P('M10.8 12.3 19 4.5'), P('M16 7.5l2.5 2.5'), P('M13.8 9.7l2 2')],
  pulse: [P('M3 12h4l2.5-6 5 12 2.5-6h4')],
  shield: [P('M12 3.5 19 6v5.5c0 4.3-2.9 7.7-7 9-4.1-1.3-7-4.7-7-9V6z'), P('M9 12l2.2 2.2L15.5 10')],
  fit: [P('M9 4H4v5'), P('M15 4h5v5'), P('M20 15v5h-5'), P('M9 20H4v-5'), R(8, 8, 8, 8, 1)],
};

/** An inline SVG icon element. */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name}${cls ? ` ${cls}` : ''}`);
  for (const [tag, attrs] of SHAPES[name] || []) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
  }
  return svg;
}

/** The app logo: a speech bubble holding a camera lens. */
export function logo() {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'logo-mark');
  const parts = [
    ['path', { d: 'M6 4h20a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H14l-7 5v-5H6a4 4 0 0 1-4-4V8a4 4 0 0 1 4-4z', class: 'logo-bubble' }],
    ['circle', { cx: 16, cy: 14, r: 6, class: 'logo-ring' }],
    ['circle', { cx: 16, cy: 14, r: 2.4, class: 'logo-lens' }],
  ];
  for (const [tag, attrs] of parts) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
  }
  return svg;
}
