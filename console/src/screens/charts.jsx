// The journey's funnel (enrolled → sent → opened → clicked → goal) and
// sends per day, drawn by chart.js (only the parts used are registered, so
// the bundle stays small). Each canvas has a text alternative.
import { useEffect, useRef } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, LinearScale, Tooltip } from 'chart.js';
import { lang, t } from '../i18n.js';
import { num } from '../format.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip);

/** useChart draws config() on the canvas in ref, again when deps change. */
export function useChart(ref, config, deps) {
  useEffect(() => {
    if (!ref.current) return undefined;
    const chart = new Chart(ref.current, config());
    return () => chart.destroy();
  }, deps);
}

const sum = (steps, k) => steps.reduce((a, s) => a + (s[k] || 0), 0);

export function funnelOf(stats) {
  const steps = stats.steps || [];
  return [
    [t('stats.enrolled'), stats.enrolled || 0],
    [t('stats.sent'), sum(steps, 'sent')],
    [t('stats.opened'), sum(steps, 'opened')],
    [t('stats.clicked'), sum(steps, 'clicked')],
    [t('stats.goal_reached'), stats.goal_reached || 0],
  ];
}

export const common = {
  responsive: true,
  maintainAspectRatio: false,
  animation: false,
  plugins: { legend: { display: false } },
};

export function Funnel({ stats }) {
  const ref = useRef(null);
  const data = funnelOf(stats);
  const l = lang();
  useChart(
    ref,
    () => ({
      type: 'bar',
      data: {
        labels: data.map((d) => d[0]),
        datasets: [{ label: t('charts.members'), data: data.map((d) => d[1]), backgroundColor: ['#3b5bdb', '#4c6ef5', '#5c7cfa', '#748ffc', '#2f9e44'] }],
      },
      options: { ...common, indexAxis: 'y', locale: l, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    [JSON.stringify(data), l],
  );
  const summary = data.map(([k, v]) => `${k} ${num(v)}`).join(', ');
  return (
    <figure class="chart">
      <figcaption>{t('charts.funnel')}</figcaption>
      <div class="chart-box">
        <canvas ref={ref} data-testid="funnel-chart" role="img" aria-label={`${t('charts.funnel')}: ${summary}`}>
          {summary}
        </canvas>
      </div>
    </figure>
  );
}

/**
 * daysOf is the API's days as [day, sent] pairs, as given: the API says
 * which UTC days the window holds (today included, zeros filled), so the
 * chart does not rebuild it from the browser's clock, which may be off or
 * already on the next UTC day.
 */
export function daysOf(days) {
  return (days || []).map((d) => [d.day, d.sent || 0]);
}

export function Days({ stats }) {
  const ref = useRef(null);
  const data = daysOf(stats.days);
  const l = lang();
  useChart(
    ref,
    () => ({
      type: 'bar',
      data: {
        labels: data.map((d) => d[0].slice(5)),
        datasets: [{ label: t('stats.sent'), data: data.map((d) => d[1]), backgroundColor: '#4c6ef5' }],
      },
      options: { ...common, locale: l, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    }),
    [JSON.stringify(data), l],
  );
  const total = data.reduce((a, d) => a + d[1], 0);
  const label = t('charts.days_summary', { total: num(total) });
  return (
    <figure class="chart">
      <figcaption>
        {t('charts.days')} <span class="muted small">({t('charts.utc_days')})</span>
      </figcaption>
      <div class="chart-box">
        <canvas ref={ref} data-testid="days-chart" role="img" aria-label={`${t('charts.days')}: ${label}`}>
          {label}
        </canvas>
      </div>
      {data.length === 0 && <p class="muted small">{t('charts.no_days')}</p>}
    </figure>
  );
}
