// Simulate: POST /v1/journeys/{name}/simulate runs the engine's own step
// code over a generated cohort in simulated time, with every other live
// journey (so their contact-policy collisions show), and answers the
// report: enrollments, sends per step and per day, deferrals and skips by
// reason, paths, goals, reward cost and Temporal actions. The journey as
// published, or the editor's text (a draft) before it is published. The
// call runs inside the request: the panel shows it running and how long.
import { useEffect, useRef, useState } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { api, enc } from '../api.js';
import { has, lang, t, tx } from '../i18n.js';
import { day, fixed, money, num, pct } from '../format.js';
import { errorMessage, ErrorBanner } from '../ui.jsx';
import { common, useChart } from './charts.jsx';
import { reasonText } from './member.jsx';

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, Tooltip);

/** The API's limits (internal/api/simulate.go). */
export const simLimits = { members: 20000, days: 730 };
const fields = ['members', 'days', 'seed', 'start'];

/**
 * fieldOf is the form field an API error names ("members: must be at most
 * 20000"), or '' when it names none of them (definition, body).
 */
export function fieldOf(err) {
  const m = /^([a-z_]+)(?:[.:\s])/.exec((err && err.message) || '');
  return m && fields.includes(m[1]) ? m[1] : '';
}

/**
 * pathText translates a report path ("case 0 → offer", "path 1 → b",
 * "timeout → reminder_7d"): what was taken, then the step it led to.
 */
export function pathText(path) {
  const [head, ...rest] = String(path || '').split(' → ');
  const m = /^path (\d+)$/.exec(head);
  const what = m ? t('lift.path_n', { n: m[1] }) : reasonText(head);
  return rest.length ? `${what} → ${rest.join(' → ')}` : what;
}

/** rewardText translates a report reward ("coupon NEW8", "points", "boost ×2"). */
export function rewardText(reward) {
  const s = String(reward || '');
  let m = /^coupon (.+)$/.exec(s);
  if (m) return t('sim.reward_coupon', { code: m[1] });
  if (s === 'points') return t('sim.reward_points');
  m = /^boost ×(.+)$/.exec(s);
  if (m) return t('sim.reward_boost', { m: m[1] });
  return s;
}

/**
 * SimulatePanel is the form and the report. draft, when given, returns the
 * editor's text, which the marketer may simulate instead of the journey as
 * published (always, on a new journey: then the name comes from the text).
 */
export function SimulatePanel({ name, draft, nameOf, isNew }) {
  const [source, setSource] = useState(isNew ? 'editor' : 'published');
  const [form, setForm] = useState({ members: '1000', days: '365', seed: '1', start: '' });
  const [running, setRunning] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [report, setReport] = useState(null);
  const [target, setTarget] = useState('');
  const [error, setError] = useState(null);
  const [took, setTook] = useState(0);
  const abort = useRef(null);
  useEffect(() => () => abort.current && abort.current.abort(), []);
  useEffect(() => {
    if (!running) return undefined;
    const began = Date.now();
    setElapsed(0);
    const id = setInterval(() => setElapsed(Math.floor((Date.now() - began) / 1000)), 500);
    return () => clearInterval(id);
  }, [running]);

  const set = (k) => (e) => setForm({ ...form, [k]: e.currentTarget.value });
  const submit = async (e) => {
    e.preventDefault();
    if (running) return;
    setError(null);
    const body = {};
    // Numbers go as numbers when they are; anything else goes as typed,
    // so the API's message names the field and its rule.
    for (const k of ['members', 'days', 'seed']) {
      const v = form[k].trim();
      if (v !== '') body[k] = /^-?\d+$/.test(v) ? Number(v) : v;
    }
    if (form.start) body.start = form.start;
    let journey = name;
    if (source === 'editor' && draft) {
      const src = draft();
      body.definition = src;
      if (!journey) journey = nameOf(src);
      if (!journey) {
        setError({ status: 400, message: t('sim.no_name') });
        return;
      }
    }
    const ctl = new AbortController();
    abort.current = ctl;
    setRunning(true);
    const began = performance.now();
    try {
      const r = await api.post(`/v1/journeys/${enc(journey)}/simulate`, { json: body, signal: ctl.signal });
      setReport(r);
      setTarget(journey);
      setTook((performance.now() - began) / 1000);
    } catch (err) {
      if (err.name !== 'AbortError') setError(err);
    } finally {
      abort.current = null;
      setRunning(false);
    }
  };
  const cancel = () => abort.current && abort.current.abort();
  const bad = fieldOf(error);
  const fieldProps = (k) => ({
    id: `sim-${k}`,
    name: k,
    'data-testid': `sim-${k}`,
    value: form[k],
    onInput: set(k),
    disabled: running,
    'aria-invalid': bad === k ? 'true' : undefined,
    'aria-describedby': bad === k ? `sim-${k}-error` : `sim-${k}-hint`,
  });
  const fieldError = (k) =>
    bad === k ? (
      <span id={`sim-${k}-error`} class="error-text small" data-testid={`sim-${k}-error`} role="alert">
        {errorMessage(error)}
      </span>
    ) : null;
  return (
    <section class="card" aria-labelledby="sim-h" data-testid="simulate-panel" aria-busy={running ? 'true' : 'false'}>
      <h2 id="sim-h">{t('sim.title')}</h2>
      <p class="muted small">{t('sim.help')}</p>
      <form class="sim-form" onSubmit={submit} noValidate>
        {draft && !isNew && (
          <fieldset class="sim-source">
            <legend>{t('sim.source')}</legend>
            <label>
              <input type="radio" name="sim-source" value="published" data-testid="sim-source-published" checked={source === 'published'} onChange={() => setSource('published')} disabled={running} />{' '}
              {t('sim.source_published')}
            </label>
            <label>
              <input type="radio" name="sim-source" value="editor" data-testid="sim-source-editor" checked={source === 'editor'} onChange={() => setSource('editor')} disabled={running} />{' '}
              {t('sim.source_editor')}
            </label>
          </fieldset>
        )}
        {isNew && <p class="small">{t('sim.source_new')}</p>}
        <div class="sim-fields">
          <div class="field">
            <label for="sim-members">{t('sim.members')}</label>
            <input type="number" inputMode="numeric" min="1" max={simLimits.members} step="1" {...fieldProps('members')} />
            <span id="sim-members-hint" class="muted small">
              {t('sim.members_hint', { max: num(simLimits.members) })}
            </span>
            {fieldError('members')}
          </div>
          <div class="field">
            <label for="sim-days">{t('sim.days')}</label>
            <input type="number" inputMode="numeric" min="1" max={simLimits.days} step="1" {...fieldProps('days')} />
            <span id="sim-days-hint" class="muted small">
              {t('sim.days_hint', { max: num(simLimits.days) })}
            </span>
            {fieldError('days')}
          </div>
          <div class="field">
            <label for="sim-seed">{t('sim.seed')}</label>
            <input type="number" inputMode="numeric" step="1" {...fieldProps('seed')} />
            <span id="sim-seed-hint" class="muted small">
              {t('sim.seed_hint')}
            </span>
            {fieldError('seed')}
          </div>
          <div class="field">
            <label for="sim-start">{t('sim.start')}</label>
            <input type="date" {...fieldProps('start')} />
            <span id="sim-start-hint" class="muted small">
              {t('sim.start_hint')}
            </span>
            {fieldError('start')}
          </div>
        </div>
        <div class="actions-row">
          <button type="submit" class="primary" data-testid="simulate" disabled={running}>
            {t('sim.run')}
          </button>
          {running && (
            <>
              <span class="spinner" aria-hidden="true" />
              <span data-testid="sim-running" role="status" aria-live="polite">
                {t('sim.running', { s: num(elapsed) })}
              </span>
              <button type="button" data-testid="sim-cancel" onClick={cancel}>
                {t('sim.cancel')}
              </button>
            </>
          )}
        </div>
      </form>
      {error && !bad && <ErrorBanner error={error} onDismiss={() => setError(null)} />}
      {error && !bad && error.body && error.body.problems && (
        <ul class="problems" data-testid="sim-problems">
          {error.body.problems.map((p, i) => (
            <li key={i} data-path={p.path}>
              <code>{p.path}</code>
              <span class="problem-text">
                {t('journey.problem_prefix')}: <span lang="en">{p.rule || p.message}</span>
              </span>
            </li>
          ))}
        </ul>
      )}
      {report && <SimReport r={report} journey={target} took={took} />}
    </section>
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

function SimReport({ r, journey, took }) {
  const cur = r.currency;
  const tot = r.totals || {};
  const per = r.per_journey || [];
  const mine = per.find((j) => j.name === journey);
  return (
    <div class="sim-report" data-testid="sim-result" data-journey={journey}>
      <h3>{t('sim.result')}</h3>
      <p class="small" data-testid="sim-summary">
        {t('sim.summary', {
          members: num(r.members.total),
          days: num(r.days),
          start: day(r.start),
          seed: r.seed,
          journeys: r.journeys.length,
          s: fixed(took, 1),
        })}{' '}
        <span class="muted">{t('sim.cohort', { existing: num(r.members.registered_before_start), consent: num(r.members.email_consent) })}</span>
      </p>
      {mine && (
        <div class="stats" data-testid="sim-journey-figures">
          <Figure id="sim-enrolled" label={t('sim.enrolled_in', { name: journey })} value={num(mine.enrolled)} sub={mine.held_out ? t('sim.held_out_n', { n: num(mine.held_out) }) : ''} />
          <Figure id="sim-sent" label={t('stats.sent')} value={num(mine.sent)} />
          <Figure id="sim-deferrals" label={t('sim.deferrals')} value={num(mine.deferrals)} />
          <Figure id="sim-skipped" label={t('stats.skipped')} value={num(mine.skipped)} />
          <Figure id="sim-goals" label={t('stats.goal_reached')} value={num(mine.goals)} sub={pct(mine.goal_rate)} />
          <Figure id="sim-reward-cost" label={t('sim.reward_cost')} value={money(mine.reward_cost, cur)} />
        </div>
      )}
      <div class="stats stats-tight" data-testid="sim-totals">
        <Figure id="sim-total-enrolled" label={t('sim.total_enrolled')} value={num(tot.enrolled)} />
        <Figure id="sim-total-sent" label={t('sim.total_sent')} value={num(tot.sent)} />
        <Figure id="sim-total-goals" label={t('sim.total_goals')} value={num(tot.goals)} />
        <Figure id="sim-total-cost" label={t('sim.total_cost')} value={money(tot.reward_cost, cur)} />
        <Figure id="sim-orders" label={t('sim.orders')} value={num(r.orders.count)} sub={t('sim.orders_sub', { revenue: money(r.orders.revenue, cur), attributed: num(r.orders.attributed_to_emails) })} />
        <Figure id="sim-actions" label={t('sim.actions')} value={num(r.temporal_actions.total)} sub={t('sim.actions_sub', { n: fixed(r.temporal_actions.per_member_per_year, 2) })} />
      </div>
      <SimDays r={r} />
      <Table
        id="sim-journeys"
        title={t('sim.per_journey')}
        cols={[t('member.journey'), [t('stats.enrolled'), 1], [t('sim.held_out'), 1], [t('stats.goal_reached'), 1], [t('stats.sent'), 1], [t('sim.deferrals'), 1], [t('stats.skipped'), 1], [t('sim.pending'), 1], [t('sim.reward_cost'), 1]]}
        rows={per.map((j) => [
          <>
            {j.name}
            {j.name === journey && <span class="tag">{t('sim.simulated')}</span>}
          </>,
          num(j.enrolled),
          num(j.held_out),
          `${num(j.goals)} (${pct(j.goal_rate)})`,
          num(j.sent),
          num(j.deferrals),
          num(j.skipped),
          num(j.pending_at_end),
          money(j.reward_cost, cur),
        ])}
        keys={per.map((j) => j.name)}
      />
      <Table
        id="sim-steps"
        title={t('sim.steps')}
        cols={[t('member.journey'), t('journey.step'), [t('stats.sent'), 1], [t('stats.opened'), 1], [t('stats.clicked'), 1], [t('stats.conversions'), 1], [t('sim.deferrals'), 1], [t('stats.skipped'), 1]]}
        rows={(r.steps || []).map((s) => [s.journey, s.step, num(s.sent), num(s.opened), num(s.clicked), num(s.conversions), num(s.deferrals), num(s.skipped)])}
        keys={(r.steps || []).map((s) => `${s.journey}/${s.step}`)}
        rowAttrs={(r.steps || []).map((s) => ({ 'data-journey': s.journey, 'data-step': s.step, 'data-sent': s.sent }))}
      />
      <Table
        id="sim-reasons"
        title={t('sim.reasons')}
        empty={t('sim.no_reasons')}
        cols={[t('member.journey'), t('sim.decision'), t('sim.reason'), [t('sim.count'), 1]]}
        rows={(r.deferrals_and_skips || []).map((x) => [x.journey, tx('kind', x.kind), reasonText(x.reason), num(x.count)])}
        keys={(r.deferrals_and_skips || []).map((x) => `${x.journey}/${x.kind}/${x.reason}`)}
        rowAttrs={(r.deferrals_and_skips || []).map((x) => ({ 'data-journey': x.journey, 'data-kind': x.kind, 'data-reason': x.reason, 'data-count': x.count }))}
      />
      {(r.cap_collisions || []).length > 0 && (
        <Table
          id="sim-collisions"
          title={t('sim.collisions')}
          cols={[t('member.journey'), t('sim.held_by'), [t('sim.deferrals'), 1], [t('stats.skipped'), 1]]}
          rows={r.cap_collisions.map((c) => [c.journey, c.held_by, num(c.deferrals), num(c.skips)])}
          keys={r.cap_collisions.map((c) => `${c.journey}/${c.held_by}`)}
        />
      )}
      {(r.paths || []).length > 0 && (
        <Table
          id="sim-paths"
          title={t('sim.paths')}
          cols={[t('member.journey'), t('journey.step'), t('journey.kind'), t('sim.path'), [t('sim.count'), 1], [t('sim.share'), 1]]}
          rows={r.paths.map((p) => [p.journey, p.step, tx('step', p.kind), pathText(p.path), num(p.count), pct(p.share)])}
          keys={r.paths.map((p) => `${p.journey}/${p.step}/${p.path}`)}
        />
      )}
      <Table
        id="sim-rewards"
        title={t('sim.rewards')}
        empty={t('sim.no_rewards')}
        cols={[t('member.journey'), t('journey.step'), t('sim.reward'), [t('sim.granted'), 1], [t('sim.face_value'), 1], [t('sim.redemption'), 1], [t('sim.cost'), 1]]}
        rows={(r.rewards || []).map((x) => [
          x.journey,
          x.step,
          rewardText(x.reward),
          x.points ? `${num(x.granted)} (${t('sim.points_n', { n: num(x.points) })})` : num(x.granted),
          x.face_value ? money(x.face_value, cur) : '—',
          x.expected_redemption ? pct(x.expected_redemption) : '—',
          money(x.cost, cur),
        ])}
        keys={(r.rewards || []).map((x) => `${x.journey}/${x.step}/${x.reward}`)}
      />
      <Table
        id="sim-action-kinds"
        title={t('sim.actions_by_kind')}
        note={t('sim.actions_note')}
        cols={[t('sim.action_kind'), [t('sim.count'), 1]]}
        rows={Object.entries(r.temporal_actions.by_kind || {})
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => [has(`actions.${k}`) ? t(`actions.${k}`) : k, num(n)])}
        keys={Object.keys(r.temporal_actions.by_kind || {})}
      />
    </div>
  );
}

/**
 * Table is a captioned data table; a column is its label or [label, true]
 * for a number (right-aligned). The first cell of a row is its header.
 */
function Table({ id, title, note, cols, rows, keys, rowAttrs, empty }) {
  return (
    <section class="sim-table" data-testid={id} aria-labelledby={`${id}-h`}>
      <h4 id={`${id}-h`}>{title}</h4>
      {note && <p class="muted small">{note}</p>}
      {rows.length === 0 ? (
        <p class="muted">{empty || t('common.none')}</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                {cols.map((c, i) => {
                  const [label, isNum] = Array.isArray(c) ? c : [c, false];
                  return (
                    <th key={i} scope="col" class={isNum ? 'num' : undefined}>
                      {label}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {rows.map((row, i) => (
                <tr key={keys[i]} {...((rowAttrs && rowAttrs[i]) || {})}>
                  {row.map((cell, j) => {
                    const isNum = Array.isArray(cols[j]) && cols[j][1];
                    return j === 0 ? (
                      <th key={j} scope="row">
                        {cell}
                      </th>
                    ) : (
                      <td key={j} class={isNum ? 'num' : undefined}>
                        {cell}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const palette = ['#3b5bdb', '#2f9e44', '#e8590c', '#ae3ec9', '#0c8599', '#c2255c', '#5c940d', '#1864ab', '#d9480f', '#495057'];

/** simDays is the report's days as [day, total, {journey: n}]. */
export function simDays(r) {
  return (r.sends_per_day || []).map((d) => [d.day, d.total || 0, d.by_journey || {}]);
}

function SimDays({ r }) {
  const ref = useRef(null);
  const l = lang();
  const days = simDays(r);
  const names = r.journeys || [];
  useChart(
    ref,
    () => ({
      type: 'bar',
      data: {
        labels: days.map((d) => d[0]),
        datasets: names.map((n, i) => ({
          label: n,
          data: days.map((d) => d[2][n] || 0),
          backgroundColor: palette[i % palette.length],
          stack: 'sent',
        })),
      },
      options: {
        ...common,
        locale: l,
        plugins: { legend: { display: true, position: 'bottom' } },
        scales: { x: { stacked: true, ticks: { maxTicksLimit: 12 } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      },
    }),
    [JSON.stringify(days), l],
  );
  const total = days.reduce((a, d) => a + d[1], 0);
  const peak = days.reduce((a, d) => (d[1] > a[1] ? d : a), ['', -1]);
  const label = t('sim.days_summary', { total: num(total), days: num(days.length), peak: num(Math.max(peak[1], 0)), peak_day: peak[0] ? day(peak[0]) : '—' });
  return (
    <figure class="chart">
      <figcaption>{t('sim.days_chart')}</figcaption>
      <div class="chart-box">
        <canvas ref={ref} data-testid="sim-days-chart" role="img" aria-label={`${t('sim.days_chart')}: ${label}`}>
          {label}
        </canvas>
      </div>
    </figure>
  );
}
