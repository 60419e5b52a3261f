// Translation lookup and language choice. Every UI string goes through t(); English is the built-in
// language and a catalog maps an English message to its translation. %s placeholders are filled in
// order. Catalogs live in static/translation/<code>.json and are loaded once, before the UI is built
// (web-client.md 1.22).

let catalog = Object.create(null);
let language = 'en';

/** The languages we ship, with their own names (shown in the settings). */
export const LANGUAGES = Object.freeze({
  en: 'English',
  de: 'Deutsch',
  ja: '日本語',
  ko: '한국어',
  ru: 'Русский',
  'zh-cn': '简体中文',
  'zh-tw': '繁體中文',
});

/** The value for <html lang> (BCP 47 spelling) of one of our codes. */
const HTML_LANG = { 'zh-cn': 'zh-CN', 'zh-tw': 'zh-TW' };

export function t(message, ...args) {
  const text = catalog[message] || message;
  let i = 0;
  return text.replace(/%[sd]/g, () => (i < args.length ? String(args[i++]) : ''));
}

/** Marks a message for translation without translating it yet (for tables looked up later). */
export function N_(message) {
  return message;
}

export function setCatalog(lang, messages) {
  language = lang || 'en';
  catalog = Object.assign(Object.create(null), messages || {});
  document.documentElement.lang = HTML_LANG[language] || language;
}

export function currentLanguage() {
  return language;
}

/**
 * One of our language codes for a language tag from a browser, a header or a URL ("de-DE" → "de",
 * "zh-Hant-HK" → "zh-tw"), or '' when we have no catalog for it.
 */
export function matchLanguage(tag) {
  const lower = String(tag || '').trim().toLowerCase().replace(/_/g, '-');
  if (!lower) return '';
  if (lower in LANGUAGES) return lower;
  const parts = lower.split('-');
  if (parts[0] === 'zh') {
    if (parts.includes('hant') || parts.includes('tw') || parts.includes('hk') || parts.includes('mo')) return 'zh-tw';
    return 'zh-cn';
  }
  return parts[0] in LANGUAGES ? parts[0] : '';
}

/**
 * The language to use: ?lang= in the URL, then the one chosen in the settings, then the page's
 * Languages list (the request's Accept-Language), then navigator.languages; English otherwise.
 */
export function chooseLanguage({ query = '', setting = '', server = [], browser = [] } = {}) {
  for (const candidate of [query, setting, ...(server || []), ...(browser || [])]) {
    const code = matchLanguage(candidate);
    if (code) return code;
  }
  return 'en';
}

/** Load the catalog for a language code and make it current; English needs no file. */
export async function loadLanguage(code) {
  if (!code || code === 'en' || !(code in LANGUAGES)) {
    setCatalog('en', {});
    return 'en';
  }
  try {
    const res = await fetch(new URL(`../translation/${code}.json`, import.meta.url), { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = await res.json();
    setCatalog(code, doc && typeof doc.messages === 'object' ? doc.messages : {});
    return code;
  } catch (err) {
    console.warn(`no translation for ${code}`, err);
    setCatalog('en', {});
    return 'en';
  }
}

/** Time of day in the UI language, e.g. "14:05". */
export function formatTime(date) {
  try {
    return new Intl.DateTimeFormat(HTML_LANG[language] || language, { hour: 'numeric', minute: '2-digit' }).format(date);
  } catch {
    return `${date.getHours()}:${String(date.getMinutes()).padStart(2, '0')}`;
  }
}

const UNITS = [N_('%s B'), N_('%s KB'), N_('%s MB'), N_('%s GB'), N_('%s TB')];

/** A byte count for people: "850 KB", "4.8 MB", in the UI language's number format. */
export function formatBytes(bytes) {
  const units = UNITS;
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  let text;
  try {
    text = new Intl.NumberFormat(HTML_LANG[language] || language, { maximumFractionDigits: digits }).format(value);
  } catch {
    text = value.toFixed(digits);
  }
  return t(UNITS[unit], text);
}

/** A duration in seconds as "42 s", "3:05 min" or "1:02 h". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t('%s s', s);
  if (s < 3600) return t('%s min', `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`);
  return t('%s h', `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}`);
}
