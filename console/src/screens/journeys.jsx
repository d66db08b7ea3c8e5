// Journeys: every journey with its status, live version, trigger and
// counts (one GET /v1/journeys: no per-member or per-journey calls), and
// pause / resume / archive behind a confirmation that says what happens
// to the members in flight.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { t, tx } from '../i18n.js';
import { num, pct, dateTime } from '../format.js';
import { ConfirmDialog, ErrorBanner, Loading, Notice, useTitle } from '../ui.jsx';

const actionsFor = {
  live: ['pause', 'archive'],
  paused: ['resume', 'archive'],
  draft: ['archive'],
  archived: [],
};

export function triggerText(trigger) {
  if (!trigger || !trigger.kind) return '—';
  const kind = tx('trigger', trigger.kind);
  return trigger.summary ? `${kind}: ${trigger.summary}` : kind;
}

export function JourneysScreen() {
  useTitle(t('journeys.title'));
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(null); // {action, journey}
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState('');

  const load = () =>
    api.get('/v1/journeys').then(
      (d) => setList(d.journeys || []),
      (e) => setError(e),
    );
  useEffect(() => {
    load();
  }, []);

  const run = async () => {
    const { action, journey } = confirm;
    setBusy(true);
    setError(null);
    try {
      const out = await api.post(`/v1/journeys/${enc(journey.name)}/${action}`);
      const n = (action === 'pause' ? out.in_flight : action === 'resume' ? out.resumed : out.ended) || 0;
      setNotice(
        t(`journeys.done_${action}`, {
          name: journey.name,
          count: n,
          n: num(n),
        }),
      );
      setConfirm(null);
      await load();
    } catch (e) {
      setError(e);
      setConfirm(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="journeys-h">
      <div class="screen-head">
        <h1 id="journeys-h">{t('journeys.title')}</h1>
        <a class="button primary" href="#/new-journey" data-testid="new-journey">
          {t('journeys.new')}
        </a>
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <Notice>{notice}</Notice>
      {!list && !error && <Loading />}
      {list && list.length === 0 && <p class="muted">{t('journeys.empty')}</p>}
      {list && list.length > 0 && (
        <div class="table-wrap">
          <table data-testid="journeys-table" class="data">
            <caption class="sr-only">{t('journeys.caption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('journeys.name')}</th>
                <th scope="col">{t('journeys.status')}</th>
                <th scope="col">{t('journeys.live')}</th>
                <th scope="col">{t('journeys.trigger')}</th>
                <th scope="col" class="num">{t('journeys.enrolled')}</th>
                <th scope="col" class="num">{t('journeys.active')}</th>
                <th scope="col" class="num">{t('journeys.sent_7d')}</th>
                <th scope="col" class="num">{t('journeys.goal_rate')}</th>
                <th scope="col">{t('journeys.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((j) => (
                <tr key={j.name} data-testid={`journey-row-${j.name}`}>
                  <th scope="row">
                    <a href={`#/journeys/${enc(j.name)}`}>{j.name}</a>
                    {j.has_draft && (
                      <span class="tag" title={dateTime(j.draft_saved_at)}>
                        {t('journeys.has_draft')}
                      </span>
                    )}
                  </th>
                  <td>
                    <span class={`status status-${j.status}`} data-testid={`journey-status-${j.name}`} data-status={j.status}>
                      {tx('status', j.status)}
                    </span>
                  </td>
                  <td>{j.live ? t('journeys.version_n', { n: j.live }) : '—'}</td>
                  <td>{triggerText(j.trigger)}</td>
                  <td class="num">{num(j.enrolled)}</td>
                  <td class="num">{num(j.active)}</td>
                  <td class="num">{j.sent_7d === undefined ? '—' : num(j.sent_7d)}</td>
                  <td class="num">{j.goal_rate === undefined ? '—' : pct(j.goal_rate)}</td>
                  <td class="actions">
                    {(actionsFor[j.status] || []).map((action) => (
                      <button
                        type="button"
                        key={action}
                        class={action === 'archive' ? 'small danger-outline' : 'small'}
                        data-testid={`journey-${action}-${j.name}`}
                        aria-label={t(`journeys.${action}_label`, { name: j.name })}
                        onClick={() => setConfirm({ action, journey: j })}
                      >
                        {t(`journeys.${action}`)}
                      </button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={!!confirm}
        busy={busy}
        danger={confirm && confirm.action === 'archive'}
        title={confirm ? t(`journeys.confirm_${confirm.action}_title`, { name: confirm.journey.name }) : ''}
        body={
          confirm ? (
            <p>{t(`journeys.confirm_${confirm.action}_body`, { name: confirm.journey.name, count: confirm.journey.active || 0, n: num(confirm.journey.active || 0) })}</p>
          ) : null
        }
        okLabel={confirm ? t(`journeys.${confirm.action}`) : ''}
        onOk={run}
        onCancel={() => setConfirm(null)}
      />
    </section>
  );
}
