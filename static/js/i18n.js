// Translation lookup. Every UI string goes through t(); English is the built-in language and the
// catalog maps an English message to its translation. %s placeholders are filled in order.

let catalog = Object.create(null);
let language = 'en';

export function t(message, ...args) {
  const text = catalog[message] || message;
  let i = 0;
  return text.replace(/%[sd]/g, () => (i < args.length ? String(args[i++]) : ''));
}

export function setCatalog(lang, messages) {
  language = lang || 'en';
  catalog = Object.assign(Object.create(null), messages || {});
  document.documentElement.lang = language;
}

export function currentLanguage() {
  return language;
}

/** Time of day in the UI language, e.g. "14:05". */
export function formatTime(date) {
  try {
    return new Intl.DateTimeFormat(language, { hour: 'numeric', minute: '2-digit' }).format(date);
  } catch {
    return `${date.getHours()}:${String(date.getMinutes()).padStart(2, '0')}`;
  }
}
