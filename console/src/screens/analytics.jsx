// Analytics: what the nightly analytics-refresh stored — the members in
// each RFM segment (GET /v1/analytics/rfm) as a bar chart and the 5 × 5
// recency × frequency grid as a heat map, and the current fit of the
// BG/NBD and Gamma-Gamma models (GET /v1/analytics/model) as a table.
// Before the first refresh both answer 404: the screen says so.
import { useEffect, useRef, useState } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { api } from '../api.js';
import { lang, t } from '../i18n.js';
import { dateTime, day, fixed, money, num, pct } from '../format.js';
import { ErrorBanner, KeyValues, Loading, useTitle } from '../ui.jsx';
import { common, useChart } from './charts.jsx';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

/** load reads one analytics resource: the answer, 'none' on 404, or the error. */
function useResource(path) {
  const [state, setState] = useState({ data: null, none: false, error: null });
  useEffect(() => {
    api.get(path).then(
      (data) => setState({ data, none: false, error: null }),
      (error) => setState({ data: null, none: error.status === 404, error: error.status === 404 ? null : error }),
    );
  }, [path]);
  return state;
}

export function AnalyticsScreen() {
  useTitle(t('analytics.title'));
  const rfm = useResource('/v1/analytics/rfm');
  const model = useResource('/v1/analytics/model');
  const loading = (s) => !s.data && !s.none && !s.error;
  const none = rfm.none && model.none;
  return (
    <section aria-labelledby="analytics-h">
      <div class="screen-head">
        <h1 id="analytics-h">{t('analytics.title')}</h1>
      </div>
      <p class="lead">{t('analytics.lead')}</p>
      {none && (
        <div class="card empty-state" data-testid="analytics-empty" role="status">
          <h2>{t('analytics.empty_title')}</h2>
          <p>{t('analytics.empty_body')}</p>
        </div>
      )}
      {!none && (
        <>
          <section class="card" aria-labelledby="rfm-h" data-testid="analytics-rfm">
            <h2 id="rfm-h">{t('analytics.rfm')}</h2>
            <ErrorBanner error={rfm.error} />
            {loading(rfm) && <Loading />}
            {rfm.none && <p class="muted">{t('analytics.empty_body')}</p>}
            {rfm.data && <RFM r={rfm.data} />}
          </section>
          <section class="card" aria-labelledby="model-h" data-testid="analytics-model">
            <h2 id="model-h">{t('analytics.model')}</h2>
            <ErrorBanner error={model.error} />
            {loading(model) && <Loading />}
            {model.none && <p class="muted">{t('analytics.empty_body')}</p>}
            {model.data && <Model m={model.data} />}
          </section>
        </>
      )}
    </section>
  );
}

function RFM({ r }) {
  return (
    <>
      <p class="muted small">
        {t('analytics.rfm_asof', { day: day(r.as_of), version: r.version, window: num(r.window_days), scored: num(r.scored), changed: num(r.changed) })}
      </p>
      <div class="grid grid-2">
        <Segments segments={r.segments || []} scored={r.scored} />
        <Grid grid={r.grid} />
      </div>
      <Quintiles q={r.quintiles} />
    </>
  );
}

/** segmentsSummary is the bar chart's text alternative. */
export function segmentsSummary(segments) {
  return segments.map((s) => `${s.name} ${num(s.members)}`).join(', ');
}

function Segments({ segments, scored }) {
  const ref = useRef(null);
  const l = lang();
  const data = segments.map((s) => [s.name, s.members]);
  useChart(
    ref,
    () => ({
      type: 'bar',
      data: { labels: data.map((d) => d[0]), datasets: [{ label: t('analytics.members'), data: data.map((d) => d[1]), backgroundColor: '#4c6ef5' }] },
      options: { ...common, indexAxis: 'y', locale: l, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    [JSON.stringify(data), l],
  );
  const summary = segmentsSummary(segments);
  return (
    <div>
      <figure class="chart">
        <figcaption>{t('analytics.segments')}</figcaption>
        <div class="chart-box chart-tall">
          <canvas ref={ref} data-testid="rfm-segments-chart" role="img" aria-label={`${t('analytics.segments')}: ${summary}`}>
            {summary}
          </canvas>
        </div>
      </figure>
      <div class="table-wrap">
        <table class="data" data-testid="rfm-segments">
          <caption class="sr-only">{t('analytics.segments')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('analytics.segment')}</th>
              <th scope="col" class="num">{t('analytics.members')}</th>
              <th scope="col" class="num">{t('analytics.share')}</th>
            </tr>
          </thead>
          <tbody>
            {segments.map((s) => (
              <tr key={s.code} data-code={s.code} data-members={s.members}>
                <th scope="row">
                  {s.name} <code class="muted small">{s.code}</code>
                </th>
                <td class="num">{num(s.members)}</td>
                <td class="num">{pct(scored ? s.members / scored : 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/**
 * shade is a count's step of the heat map's five (0 for none, then 1 to 4
 * by quarters of the largest count): five steps whose text keeps its
 * contrast, rather than a continuous shade that passes through colours
 * neither dark nor light text can be read on.
 */
export function shade(n, max) {
  return n <= 0 ? 0 : Math.min(4, Math.max(1, Math.ceil((4 * n) / max)));
}

/**
 * Grid is the R × F heat map: rows recency 5 (most recent) down to 1,
 * columns frequency 1 to 5; each cell's count is written in it and its
 * shade grows with the count (shade). grid[r-1][f-1] as the API gives it.
 */
function Grid({ grid }) {
  const g = grid || [];
  const max = Math.max(1, ...g.flat());
  const scores = [1, 2, 3, 4, 5];
  return (
    <figure class="chart">
      <figcaption id="rfm-grid-caption">{t('analytics.grid')}</figcaption>
      <table class="heat" data-testid="rfm-grid" aria-labelledby="rfm-grid-caption">
        <thead>
          <tr>
            <th scope="col">
              <span class="sr-only">{t('analytics.recency')}</span>
              <span aria-hidden="true">{t('analytics.r_by_f')}</span>
            </th>
            {scores.map((f) => (
              <th key={f} scope="col">
                {t('analytics.f_n', { n: f })}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...scores].reverse().map((r) => (
            <tr key={r}>
              <th scope="row">{t('analytics.r_n', { n: r })}</th>
              {scores.map((f) => {
                const n = (g[r - 1] && g[r - 1][f - 1]) || 0;
                return (
                  <td key={f} data-r={r} data-f={f} data-count={n} class={`heat-${shade(n, max)}`}>
                    {num(n)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">{t('analytics.grid_help')}</p>
    </figure>
  );
}

function Quintiles({ q }) {
  if (!q) return null;
  return (
    <details class="quintiles">
      <summary>{t('analytics.quintiles')}</summary>
      <KeyValues
        testid="rfm-quintiles"
        items={[
          [t('analytics.q_customers'), num(q.customers)],
          [t('analytics.q_recency'), (q.recency_days || []).map((d) => t('analytics.days_n', { n: num(d) })).join(' · ')],
          [t('analytics.q_frequency'), (q.frequency || []).map(num).join(' · ')],
          [t('analytics.q_monetary'), (q.monetary || []).join(' · ')],
        ]}
      />
    </details>
  );
}

/** sig writes a model parameter with 4 significant digits. */
export function sig(v) {
  if (v === undefined || v === null || !Number.isFinite(Number(v))) return '—';
  const x = Number(v);
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-4)) return x.toExponential(3);
  return new Intl.NumberFormat(lang(), { maximumSignificantDigits: 4 }).format(x);
}

function Model({ m }) {
  const bg = m.bgnbd || {};
  const gg = m.gamma_gamma || {};
  const sc = m.scoring || {};
  const rows = [
    ['bgnbd', 'r', bg],
    ['bgnbd', 'alpha', bg],
    ['bgnbd', 'a', bg],
    ['bgnbd', 'b', bg],
    ['gamma_gamma', 'p', gg],
    ['gamma_gamma', 'q', gg],
    ['gamma_gamma', 'v', gg],
  ];
  return (
    <>
      <KeyValues
        testid="model-summary"
        items={[
          [t('analytics.version'), <span data-testid="model-version">{num(m.version)}</span>],
          [t('analytics.fitted_at'), dateTime(m.fitted_at)],
          [t('analytics.as_of'), day(m.as_of)],
          [t('analytics.period'), m.period ? t(`analytics.period_${m.period}`, { defaultValue: m.period }) : '—'],
          [t('analytics.members_read'), num(m.members)],
          [t('analytics.customers'), num(m.customers)],
          [t('analytics.sample'), m.sampled ? t('analytics.sampled', { n: num(m.sample_size) }) : t('analytics.not_sampled', { n: num(m.sample_size) })],
          [t('analytics.converged'), <span data-testid="model-converged" data-converged={String(!!m.converged)}>{m.converged ? t('analytics.yes') : t('analytics.no')}</span>],
          [t('analytics.scoring'), t('analytics.scoring_line', { days: num(sc.horizon_days), months: num(sc.clv_months), rate: pct(sc.monthly_discount), currency: sc.currency || '' })],
        ]}
      />
      <div class="table-wrap">
        <table class="data" data-testid="model-params">
          <caption class="caption">{t('analytics.params_caption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('analytics.model_name')}</th>
              <th scope="col">{t('analytics.param')}</th>
              <th scope="col" class="num">{t('analytics.estimate')}</th>
              <th scope="col" class="num">{t('analytics.std_err')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([model, p, fit]) => (
              <tr key={model + p} data-model={model} data-param={p} data-value={(fit.params || {})[p]}>
                <td>{t(`analytics.${model}`)}</td>
                <th scope="row">
                  <code>{p === 'alpha' ? 'α' : p}</code>
                </th>
                <td class="num">{sig((fit.params || {})[p])}</td>
                <td class="num">{sig((fit.std_err || {})[p])}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="table-wrap">
        <table class="data" data-testid="model-fits">
          <caption class="caption">{t('analytics.fits_caption')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('analytics.model_name')}</th>
              <th scope="col" class="num">{t('analytics.log_likelihood')}</th>
              <th scope="col" class="num">{t('analytics.customers')}</th>
              <th scope="col">{t('analytics.converged')}</th>
              <th scope="col" class="num">{t('analytics.iterations')}</th>
              <th scope="col" class="num">{t('analytics.gradient_norm')}</th>
            </tr>
          </thead>
          <tbody>
            {[
              ['bgnbd', bg],
              ['gamma_gamma', gg],
            ].map(([model, fit]) => (
              <tr key={model} data-model={model} data-ll={fit.log_likelihood}>
                <th scope="row">{t(`analytics.${model}`)}</th>
                <td class="num">{fixed(fit.log_likelihood, 2)}</td>
                <td class="num">{num(fit.customers)}</td>
                <td>{fit.converged ? t('analytics.yes') : t('analytics.no')}</td>
                <td class="num">{num(fit.iterations)}</td>
                <td class="num">{sig(fit.gradient_norm)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
