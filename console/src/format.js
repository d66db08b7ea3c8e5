// Numbers and dates in the viewer's language; dates in the viewer's time
// zone, and where a member's zone decided something, in theirs as well.
import { lang, t } from './i18n.js';

const cache = new Map();
function fmt(kind, opts) {
  const key = lang() + kind + JSON.stringify(opts);
  let f = cache.get(key);
  if (!f) {
    f = kind === 'n' ? new Intl.NumberFormat(lang(), opts) : new Intl.DateTimeFormat(lang(), opts);
    cache.set(key, f);
  }
  return f;
}

export function num(n) {
  if (n === undefined || n === null || n === '') return '—';
  const v = Number(n);
  return Number.isFinite(v) ? fmt('n', {}).format(v) : String(n);
}

/** money shows a decimal string as it is (no float rounding) with the currency. */
export function money(amount, currency) {
  if (amount === undefined || amount === null) return '—';
  return currency ? `${amount} ${currency}` : String(amount);
}

export function pct(ratio) {
  if (ratio === undefined || ratio === null || !Number.isFinite(Number(ratio))) return '—';
  return fmt('n', { style: 'percent', maximumFractionDigits: 1 }).format(Number(ratio));
}

function valid(d) {
  if (!d) return null;
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() <= 1 ? null : date;
}

/** dateTime is the moment in the viewer's zone. */
export function dateTime(d) {
  const date = valid(d);
  return date ? fmt('d', { dateStyle: 'medium', timeStyle: 'short' }).format(date) : '—';
}

export function dateOnly(d) {
  const date = valid(d);
  return date ? fmt('d', { dateStyle: 'medium' }).format(date) : '—';
}

/** inZone is the moment in another zone (a member's), with the zone's name. */
export function inZone(d, zone) {
  const date = valid(d);
  if (!date || !zone) return '';
  try {
    return fmt('d', { dateStyle: 'medium', timeStyle: 'short', timeZone: zone }).format(date) + ` (${zone})`;
  } catch {
    return '';
  }
}

export function viewerZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

/** value shows a condition value (a CEL result) compactly. */
export function value(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? t('common.true') : t('common.false');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
