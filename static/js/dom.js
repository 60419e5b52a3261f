// Safe DOM building: every text goes through textContent, never through HTML parsing.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'muted', 'autoplay',
  'playsInline', 'srcObject', 'htmlFor', 'selected', 'maxLength', 'type']);

/**
 * h('button', {class: 'x', on: {click}, text: 'Hi', 'aria-label': '..'}, ...children)
 * Children may be nodes, strings (become text nodes), arrays, or null/false (skipped).
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = value;
      else if (key === 'on') for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (PROPERTIES.has(key)) el[key] = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Toggle the hidden property only when it changes. */
export function show(el, visible) {
  if (el.hidden === !!visible) el.hidden = !visible;
}

const URL_RE = /\b(https?:\/\/[^\s<>"']+|www\.[^\s<>"']+)/gi;

/**
 * Text with URLs turned into links: a DocumentFragment of text nodes and <a> elements.
 * Nothing in the text is ever interpreted as markup.
 */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const m of String(text).matchAll(URL_RE)) {
    let url = m[0];
    // trailing punctuation belongs to the sentence, not to the link
    const trail = url.match(/[.,;:!?)\]]+$/);
    if (trail) url = url.slice(0, -trail[0].length);
    if (m.index > last) frag.append(document.createTextNode(text.slice(last, m.index)));
    const href = /^www\./i.test(url) ? `https://${url}` : url;
    frag.append(h('a', { href, target: '_blank', rel: 'external noopener noreferrer', text: url }));
    last = m.index + url.length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}
