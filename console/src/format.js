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

/**
 * money formats a decimal string in the viewer's language with the
 * currency (Intl.NumberFormat, style currency). The string goes to format()
 * as it is, which formats it exactly (no float on the way), and a value with
 * more decimals than the currency's usual keeps them all.
 */
export function money(amount, currency) {
  if (amount === undefined || amount === null || amount === '') return '—';
  const s = String(amount);
  if (!currency || !/^-?\d+(\.\d+)?$/.test(s)) return currency ? `${s} ${currency}` : s;
  try {
    const base = fmt('n', { style: 'currency', currency });
    const decimals = (s.split('.')[1] || '').length;
    const f = decimals > base.resolvedOptions().maximumFractionDigits ? fmt('n', { style: 'currency', currency, maximumFractionDigits: decimals }) : base;
    return f.format(s);
  } catch {
    // not a currency code Intl knows
    return `${s} ${currency}`;
  }
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

/** day shows a calendar day (YYYY-MM-DD) as it is written, in no zone. */
export function day(ymd) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(ymd || '')) return ymd || '—';
  const date = new Date(`${ymd}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? ymd : fmt('d', { dateStyle: 'medium', timeZone: 'UTC' }).format(date);
}

/**
 * duration says a journey duration as the API writes it ("3d", "-30d",
 * Go's "36h0m0s" or "90m0s") in words; anything else as it is.
 */
export function duration(d) {
  const s = String(d || '').replace(/^-/, '');
  let m = /^(\d+)d$/.exec(s);
  if (m) return t('duration.days', { count: Number(m[1]), n: num(m[1]) });
  m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (!m || !s) return String(d || '');
  const parts = [];
  if (m[1] && m[1] !== '0') parts.push(t('duration.hours', { count: Number(m[1]), n: num(m[1]) }));
  if (m[2] && m[2] !== '0') parts.push(t('duration.minutes', { count: Number(m[2]), n: num(m[2]) }));
  if (m[3] && m[3] !== '0') parts.push(t('duration.seconds', { count: Number(m[3]), n: num(m[3]) }));
  return parts.length ? parts.join(t('duration.join')) : String(d);
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

/** fixed is n with exactly digits decimals in the viewer's language. */
export function fixed(n, digits) {
  if (n === undefined || n === null || !Number.isFinite(Number(n))) return '—';
  return fmt('n', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(Number(n));
}

/** signed is n with its sign (+ for positive), at most digits decimals. */
export function signed(n, digits = 1) {
  if (n === undefined || n === null || !Number.isFinite(Number(n))) return '—';
  return fmt('n', { signDisplay: 'exceptZero', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(Number(n));
}

/** points says a difference of two rates (0.05) in percentage points ("+5.0 pts"). */
export function points(diff) {
  if (diff === undefined || diff === null || !Number.isFinite(Number(diff))) return '—';
  return t('lift.pts', { v: signed(Number(diff) * 100, 1) });
}
