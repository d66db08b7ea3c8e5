// The console's two languages. The catalogues are bundled (they are small)
// so switching needs no request. The choice is the only thing the console
// keeps in localStorage (memberflow.lang).
import i18next from 'i18next';
import en from './i18n/en.json';
import zhCN from './i18n/zh-CN.json';

export const languages = ['en', 'zh-CN'];
const storageKey = 'memberflow.lang';

function initial() {
  let saved = null;
  try {
    saved = localStorage.getItem(storageKey);
  } catch {
    // storage blocked: fall back to the browser's language
  }
  if (languages.includes(saved)) return saved;
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

i18next.init({
  lng: initial(),
  fallbackLng: 'en',
  supportedLngs: languages,
  resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
  interpolation: { escapeValue: false }, // Preact escapes text
  initAsync: false,
  returnNull: false,
});
document.documentElement.lang = i18next.language;

export const t = (key, opts) => i18next.t(key, opts);
export const lang = () => i18next.language;
/** has reports whether the catalogue has key. */
export const has = (key) => i18next.exists(key);

/** setLanguage switches and remembers the language. */
export function setLanguage(lng) {
  i18next.changeLanguage(lng);
  document.documentElement.lang = lng;
  try {
    localStorage.setItem(storageKey, lng);
  } catch {
    // not remembered; still switched
  }
}

/** tx translates a code (a status, reason, kind) under a group, or shows it as it is. */
export function tx(group, code) {
  if (code === undefined || code === null || code === '') return '';
  const key = `${group}.${code}`;
  return i18next.exists(key) ? i18next.t(key) : String(code);
}
