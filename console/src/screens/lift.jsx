// Lift: what the journey did for its treated members against the members
// held out (GET /v1/journeys/{name}/lift?window=30d) — the arms side by
// side, the conversion lift with its 95% interval drawn, the incremental
// revenue and reward cost, the ROI and a verdict in the viewer's
// language; then each split's paths against the control and each other.
import { useEffect, useRef, useState } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { api, enc } from '../api.js';
import { lang, t } from '../i18n.js';
import { day, dateTime, fixed, money, num, pct, points, signed } from '../format.js';
import { ErrorBanner, Loading } from '../ui.jsx';
import { common, useChart } from './charts.jsx';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip);

export const liftWindows = ['7d', '30d', '90d'];
const arms = ['treated', 'holdout', 'programme_holdout'];

/** armText names an arm ("treated", "holdout", "programme_holdout"). */
export function armText(arm) {
  return t(`lift.arm_${arm}`);
}

/**
 * labelText translates a comparison's label as the API writes it: an arm
 * with spaces for underscores ("programme holdout") or "path 1".
 */
export function labelText(label) {
  const m = /^path (\d+)$/.exec(label || '');
  if (m) return t('lift.path_n', { n: m[1] });
  const arm = String(label || '').replace(/ /g, '_');
  return arms.includes(arm) ? armText(arm) : String(label || '');
}

/**
 * about is n as the API's verdict sizes it: two significant digits,
 * rounded up (1234 → 1,300), in the viewer's language.
 */
export function about(n) {
  let v = Number(n);
  if (v >= 100) {
    const unit = 10 ** (Math.floor(Math.log10(v)) - 1);
    v = Math.ceil(v / unit) * unit;
  }
  return num(v);
}

/**
 * verdictText is the comparison's verdict in the viewer's words, from the
 * fields the API's English sentence is made of: the status and how many
 * more members each arm needs, for the arms' allocation ratio (the same
 * choice as internal/analytics: one figure when the arms are within 0.8
 * to 1.25 of each other, else one per arm).
 */
export function verdictText(c, treatedMembers, controlMembers) {
  const v = c.verdict || {};
  const tl = labelText(c.treated);
  const cl = labelText(c.control);
  switch (v.status) {
    case 'significant':
      return c.conversion_lift >= 0 ? t('lift.verdict_significant_up', { treated: tl, control: cl }) : t('lift.verdict_significant_down', { treated: tl, control: cl });
    case 'not_yet': {
      if (v.more_treated === undefined || v.more_control === undefined) return t('lift.verdict_no_difference');
      if (v.more_treated === 0 && v.more_control === 0) return t('lift.verdict_edge');
      const k = controlMembers > 0 ? treatedMembers / controlMembers : 0;
      if (k >= 0.8 && k <= 1.25) return t('lift.verdict_more_per_arm', { n: about(Math.max(v.more_treated, v.more_control)) });
      return t('lift.verdict_more_each', { control: about(v.more_control), control_name: cl, treated: about(v.more_treated), treated_name: tl });
    }
    case 'no_data':
      return t('lift.verdict_no_data');
    default:
      return v.text || '';
  }
}

/** interval writes a comparison's 95% interval in points ("−2.1 to +9.8 pts"). */
export function interval(ci) {
  if (!ci) return '—';
  return t('lift.interval', { lo: signed(ci[0] * 100, 1), hi: signed(ci[1] * 100, 1) });
}

export function LiftPanel({ name }) {
  const [win, setWin] = useState('30d');
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let live = true;
    setBusy(true);
    setError(null);
    api.get(`/v1/journeys/${enc(name)}/lift?window=${enc(win)}`).then(
      (r) => {
        if (!live) return;
        setReport(r);
        setBusy(false);
      },
      (e) => {
        if (!live) return;
        setError(e);
        setBusy(false);
      },
    );
    return () => {
      live = false;
    };
  }, [name, win]);
  return (
    <section class="card" aria-labelledby="lift-h" data-testid="lift-panel" aria-busy={busy ? 'true' : 'false'}>
      <div class="card-head">
        <h2 id="lift-h">{t('lift.title')}</h2>
        <label for="lift-window">{t('lift.window')}</label>
        <select id="lift-window" data-testid="lift-window" value={win} onChange={(e) => setWin(e.currentTarget.value)}>
          {liftWindows.map((w) => (
            <option key={w} value={w}>
              {t('lift.window_days', { n: Number(w.slice(0, -1)) })}
            </option>
          ))}
        </select>
      </div>
      <p class="muted small">{t('lift.help')}</p>
      <ErrorBanner error={error} />
      {!report && !error && <Loading />}
      {report && <LiftReport r={report} />}
    </section>
  );
}

function LiftReport({ r }) {
  const cur = r.currency;
  const shown = arms.filter((a) => a === 'treated' || a === r.control || (r.arms[a] && r.arms[a].members > 0));
  const counted = arms.some((a) => r.arms[a] && r.arms[a].members > 0);
  const lift = r.lift;
  const control = r.control ? r.arms[r.control] : null;
  const rows = [];
  if (lift && lift.ci95) rows.push({ label: t('lift.vs', { treated: armText('treated'), control: armText(r.control) }), c: lift });
  for (const s of r.splits || []) {
    for (const p of s.paths) {
      if (p.vs_control && p.vs_control.ci95) rows.push({ label: `${s.step} · ${t('lift.vs', { treated: t('lift.path_n', { n: p.path }), control: armText(r.control) })}`, c: p.vs_control });
    }
  }
  return (
    <>
      <p class="small" data-testid="lift-asof" data-window={r.window}>
        {t('lift.as_of', { at: dateTime(r.as_of), window: t('lift.window_days', { n: r.window_days }) })}{' '}
        {r.cohorts_through ? t('lift.cohorts_through', { day: day(r.cohorts_through) }) : ''}{' '}
        {r.pending_members > 0 && (
          <span data-testid="lift-pending" data-count={r.pending_members}>
            {t('lift.pending', { count: r.pending_members, n: num(r.pending_members) })}
          </span>
        )}
      </p>
      {!counted ? (
        <p class="empty" data-testid="lift-empty" data-reason="no_data">
          {r.pending_members > 0 ? t('lift.empty_pending', { window: t('lift.window_days', { n: r.window_days }) }) : t('lift.empty_none')}
        </p>
      ) : (
        !r.control && (
          <p class="empty" data-testid="lift-empty" data-reason="no_control">
            {t('lift.empty_no_control')}
          </p>
        )
      )}
      {counted && (
        <div class="table-wrap">
          <table class="data" data-testid="lift-arms">
            <caption class="sr-only">{t('lift.arms_caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('lift.arm')}</th>
                <th scope="col" class="num">{t('lift.members')}</th>
                <th scope="col" class="num">{t('lift.conversion_rate')}</th>
                <th scope="col" class="num">{t('lift.orders_per_member')}</th>
                <th scope="col" class="num">{t('lift.revenue_per_member')}</th>
                <th scope="col" class="num">{t('lift.reward_cost')}</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((a) => (
                <ArmRow key={a} id={`lift-arm-${a}`} label={armText(a)} arm={r.arms[a]} cur={cur} control={a === r.control} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {lift && lift.verdict.status !== 'no_data' && (
        <div class="lift-body">
          <LiftChart rows={rows} />
          <div>
            <div class="stats stats-tight" data-testid="lift-figures">
              <Figure id="lift-lift" label={t('lift.conversion_lift')} value={points(lift.conversion_lift)} sub={lift.relative_lift === null || lift.relative_lift === undefined ? '' : t('lift.relative', { v: signed(lift.relative_lift * 100, 1) })} />
              <Figure id="lift-ci" label={t('lift.ci95')} value={interval(lift.ci95)} />
              <Figure id="lift-incremental-conversions" label={t('lift.incremental_conversions')} value={fixed(lift.incremental_conversions, 1)} />
              <Figure id="lift-incremental-revenue" label={t('lift.incremental_revenue')} value={money(lift.incremental_revenue, cur)} />
              <Figure id="lift-incremental-cost" label={t('lift.incremental_reward_cost')} value={money(lift.incremental_reward_cost, cur)} />
              <Figure id="lift-roi" label={t('lift.roi')} value={lift.roi === null || lift.roi === undefined ? '—' : pct(lift.roi)} sub={lift.roi === null || lift.roi === undefined ? t('lift.roi_none') : ''} />
            </div>
          </div>
        </div>
      )}
      {lift && (
        <p class={`verdict verdict-${lift.verdict.status}`} data-testid="lift-verdict" data-status={lift.verdict.status}>
          <strong>{t('lift.verdict')}:</strong> {verdictText(lift, r.arms.treated.members, control ? control.members : 0)}
        </p>
      )}
      {(r.splits || []).map((s) => (
        <SplitTable key={s.step} s={s} r={r} cur={cur} />
      ))}
    </>
  );
}

function Figure({ id, label, value, sub }) {
  return (
    <div class="stat" data-testid={id}>
      <div class="stat-label">{label}</div>
      <div class="stat-value">{value}</div>
      {sub && <div class="stat-sub muted small">{sub}</div>}
    </div>
  );
}

function ArmRow({ id, label, arm, cur, control }) {
  const a = arm || {};
  return (
    <tr data-testid={id} data-members={a.members || 0}>
      <th scope="row">
        {label}
        {control && <span class="tag">{t('lift.control')}</span>}
      </th>
      <td class="num">{num(a.members || 0)}</td>
      <td class="num">
        {pct(a.conversion_rate || 0)} <span class="muted small">({num(a.conversions || 0)})</span>
      </td>
      <td class="num">{fixed(a.orders_per_member || 0, 2)}</td>
      <td class="num">{money(a.revenue_per_member, cur)}</td>
      <td class="num">
        {money(a.reward_cost, cur)}
        {(a.coupons_redeemed > 0 || a.points_granted > 0 || a.boost_points > 0) && (
          <div class="muted small">
            {t('lift.cost_parts', { coupons: num(a.coupons_redeemed || 0), points: num(a.points_granted || 0), boost: num(a.boost_points || 0) })}
          </div>
        )}
      </td>
    </tr>
  );
}

function SplitTable({ s, r, cur }) {
  const byPath = Object.fromEntries(s.paths.map((p) => [`path ${p.path}`, p]));
  const control = r.control ? r.arms[r.control] : null;
  return (
    <section class="split" data-testid={`lift-split-${s.step}`}>
      <h3>{t('lift.split', { step: s.step })}</h3>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th scope="col">{t('lift.path')}</th>
              <th scope="col">{t('lift.goes_to')}</th>
              <th scope="col" class="num">{t('lift.weight')}</th>
              <th scope="col" class="num">{t('lift.members')}</th>
              <th scope="col" class="num">{t('lift.conversion_rate')}</th>
              <th scope="col" class="num">{t('lift.orders_per_member')}</th>
              <th scope="col" class="num">{t('lift.revenue_per_member')}</th>
              <th scope="col" class="num">{t('lift.reward_cost')}</th>
              <th scope="col">{t('lift.vs_control')}</th>
            </tr>
          </thead>
          <tbody>
            {s.paths.map((p) => (
              <tr key={p.path} data-testid={`lift-path-${s.step}-${p.path}`} data-members={p.treated.members}>
                <th scope="row">{t('lift.path_n', { n: p.path })}</th>
                <td>{p.goto ? <code>{p.goto}</code> : <span class="muted">{t('lift.path_gone')}</span>}</td>
                <td class="num">{p.weight ? num(p.weight) : '—'}</td>
                <td class="num">{num(p.treated.members)}</td>
                <td class="num">{pct(p.treated.conversion_rate)}</td>
                <td class="num">{fixed(p.treated.orders_per_member, 2)}</td>
                <td class="num">{money(p.treated.revenue_per_member, cur)}</td>
                <td class="num">{money(p.treated.reward_cost, cur)}</td>
                <td>
                  {p.vs_control ? (
                    <>
                      {points(p.vs_control.conversion_lift)} <span class="muted small">{interval(p.vs_control.ci95)}</span>
                      <div class="small">{verdictText(p.vs_control, p.treated.members, control ? control.members : 0)}</div>
                    </>
                  ) : (
                    <span class="muted">{t('lift.no_control_short')}</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {s.comparisons.length > 0 && (
        <div class="table-wrap">
          <table class="data" data-testid={`lift-split-${s.step}-ab`}>
            <caption class="caption">{t('lift.ab_caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('lift.comparison')}</th>
                <th scope="col" class="num">{t('lift.conversion_lift')}</th>
                <th scope="col">{t('lift.ci95')}</th>
                <th scope="col" class="num">{t('lift.incremental_revenue')}</th>
                <th scope="col">{t('lift.verdict')}</th>
              </tr>
            </thead>
            <tbody>
              {s.comparisons.map((c) => {
                const a = byPath[c.treated];
                const b = byPath[c.control];
                return (
                  <tr key={`${c.treated}|${c.control}`}>
                    <th scope="row">{t('lift.vs', { treated: labelText(c.treated), control: labelText(c.control) })}</th>
                    <td class="num">{points(c.conversion_lift)}</td>
                    <td>{interval(c.ci95)}</td>
                    <td class="num">{money(c.incremental_revenue, cur)}</td>
                    <td data-status={c.verdict.status}>{verdictText(c, a ? a.treated.members : 0, b ? b.treated.members : 0)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/**
 * liftSummary is the chart's text alternative: each comparison's lift
 * and interval, in points.
 */
export function liftSummary(rows) {
  return rows.map(({ label, c }) => t('lift.chart_row', { label, lift: points(c.conversion_lift), interval: interval(c.ci95) })).join('; ');
}

/**
 * LiftChart draws each comparison's 95% interval as a floating bar and its
 * point estimate as a diamond, in percentage points, with zero marked.
 */
function LiftChart({ rows }) {
  const ref = useRef(null);
  const l = lang();
  const data = rows.map(({ label, c }) => [label, c.conversion_lift * 100, c.ci95[0] * 100, c.ci95[1] * 100]);
  useChart(
    ref,
    () => ({
      type: 'bar',
      data: {
        labels: data.map((d) => d[0]),
        datasets: [
          {
            type: 'line',
            label: t('lift.conversion_lift'),
            data: data.map((d) => d[1]),
            showLine: false,
            pointStyle: 'rectRot',
            pointRadius: 7,
            pointHoverRadius: 8,
            backgroundColor: '#1d2a55',
            borderColor: '#1d2a55',
            indexAxis: 'y',
          },
          {
            type: 'bar',
            label: t('lift.ci95'),
            data: data.map((d) => [d[2], d[3]]),
            backgroundColor: 'rgba(76, 110, 245, 0.35)',
            borderColor: '#4c6ef5',
            borderWidth: 1,
            barPercentage: 0.5,
            indexAxis: 'y',
          },
        ],
      },
      options: {
        ...common,
        indexAxis: 'y',
        locale: l,
        scales: {
          x: {
            title: { display: true, text: t('lift.axis_points') },
            grid: { color: (ctx) => (ctx.tick && ctx.tick.value === 0 ? '#1d2330' : '#e6e9ef'), lineWidth: (ctx) => (ctx.tick && ctx.tick.value === 0 ? 2 : 1) },
          },
        },
      },
    }),
    [JSON.stringify(data), l],
  );
  const summary = liftSummary(rows);
  return (
    <figure class="chart">
      <figcaption>{t('lift.chart')}</figcaption>
      <div class="chart-box" style={{ height: `${Math.max(140, 60 + rows.length * 44)}px` }}>
        <canvas ref={ref} data-testid="lift-chart" role="img" aria-label={`${t('lift.chart')}: ${summary}`}>
          {summary}
        </canvas>
      </div>
    </figure>
  );
}
