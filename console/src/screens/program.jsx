// Programme: what it owes (GET /v1/liability) and how it is configured
// (GET /v1/program): tiers, coupons and the rest of the rules.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { t } from '../i18n.js';
import { dateTime, money, num } from '../format.js';
import { ErrorBanner, KeyValues, Loading, useTitle } from '../ui.jsx';

export function ProgramScreen() {
  useTitle(t('program.title'));
  const [liab, setLiab] = useState(null);
  const [prog, setProg] = useState(null);
  const [errL, setErrL] = useState(null);
  const [errP, setErrP] = useState(null);
  useEffect(() => {
    api.get('/v1/liability').then(setLiab, setErrL);
    api.get('/v1/program').then(setProg, setErrP);
  }, []);
  const rest = prog ? Object.fromEntries(Object.entries(prog).filter(([k]) => k !== 'tiers' && k !== 'coupons')) : null;
  return (
    <section aria-labelledby="program-h">
      <div class="screen-head">
        <h1 id="program-h">{t('program.title')}</h1>
      </div>
      <section class="card" aria-labelledby="liab-h" data-testid="program-liability">
        <h2 id="liab-h">{t('program.liability')}</h2>
        <ErrorBanner error={errL} />
        {!liab && !errL && <Loading />}
        {liab && <Liability l={liab} />}
      </section>
      <ErrorBanner error={errP} />
      {!prog && !errP && <Loading />}
      {prog && (
        <>
          <section class="card" aria-labelledby="tiers-h" data-testid="program-tiers">
            <h2 id="tiers-h">{t('program.tiers')}</h2>
            <Table rows={prog.tiers || []} label={t('program.tiers')} />
          </section>
          <section class="card" aria-labelledby="coupons-h" data-testid="program-coupons">
            <h2 id="coupons-h">{t('program.coupons')}</h2>
            <Table rows={prog.coupons || []} label={t('program.coupons')} />
          </section>
          <section class="card" aria-labelledby="rules-h" data-testid="program-rules">
            <h2 id="rules-h">{t('program.rules')}</h2>
            <Value v={rest} depth={0} />
          </section>
        </>
      )}
    </section>
  );
}

function Liability({ l }) {
  const cur = l.currency;
  const p = l.points || {};
  const sv = l.stored_value || {};
  return (
    <>
      <p class="muted small">{t('program.as_of', { at: dateTime(l.as_of) })}</p>
      <div class="stats">
        <Stat label={t('program.points_outstanding')} value={num((p.pending || 0) + (p.available || 0))} sub={t('program.points_split', { pending: num(p.pending), available: num(p.available) })} />
        <Stat label={t('program.points_value')} value={money(p.value, cur)} />
        <Stat label={t('program.sv_principal')} value={money(sv.principal, cur)} />
        <Stat label={t('program.sv_bonus')} value={money(sv.bonus, cur)} />
      </div>
      <h3>{t('program.unused_coupons')}</h3>
      {(l.coupons || []).length === 0 ? (
        <p class="muted">{t('program.no_unused')}</p>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th scope="col">{t('program.coupon_kind')}</th>
              <th scope="col" class="num">{t('program.unused')}</th>
              <th scope="col" class="num">{t('program.discount_value')}</th>
            </tr>
          </thead>
          <tbody>
            {l.coupons.map((c) => (
              <tr key={c.kind}>
                <th scope="row">{c.kind}</th>
                <td class="num">{num(c.unused)}</td>
                <td class="num">{money(c.discount_value, cur)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Stat({ label, value, sub }) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub muted small">{sub}</div>}
    </div>
  );
}

/** label turns a configuration key into words: a known one translated, else spaced. */
function label(key) {
  const k = `config.${key}`;
  const v = t(k);
  return v === k ? String(key).replace(/_/g, ' ') : v;
}

function isScalar(v) {
  return v === null || typeof v !== 'object';
}

function scalar(v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? t('common.true') : t('common.false');
  return String(v);
}

/** Table shows a list of objects with one column per key. */
function Table({ rows, label: caption }) {
  if (!rows.length) return <p class="muted">{t('common.none')}</p>;
  const cols = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return (
    <div class="table-wrap">
      <table class="data">
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {cols.map((c) => (
              <th scope="col" key={c}>
                {label(c)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{isScalar(r[c]) ? scalar(r[c]) : <code>{JSON.stringify(r[c])}</code>}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Value renders any configuration value: scalars, lists of objects as tables, objects as lists. */
function Value({ v, depth }) {
  if (isScalar(v)) return <span>{scalar(v)}</span>;
  if (Array.isArray(v)) {
    if (v.length && v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) return <Table rows={v} label="" />;
    return <span>{v.map(scalar).join(', ') || '—'}</span>;
  }
  const entries = Object.entries(v);
  if (depth === 0) {
    return entries.map(([k, x]) => (
      <section key={k} class="rule">
        <h3>{label(k)}</h3>
        <Value v={x} depth={1} />
      </section>
    ));
  }
  return <KeyValues items={entries.map(([k, x]) => [label(k), <Value v={x} depth={depth + 1} />])} />;
}
