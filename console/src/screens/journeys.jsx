// Journeys: every journey with its status, live version, trigger and
// counts (one GET /v1/journeys: no per-member or per-journey calls), and
// pause / resume / archive behind a confirmation that says what happens
// to the members in flight.
import { useEffect, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { t, tx } from '../i18n.js';
import { day, duration, num, pct, dateTime } from '../format.js';
import { ConfirmDialog, ErrorBanner, Loading, Notice, useTitle } from '../ui.jsx';

const actionsFor = {
  live: ['pause', 'archive'],
  paused: ['resume', 'archive'],
  draft: ['archive'],
  archived: [],
};

/**
 * triggerFields turns a definition's trigger (GET /v1/journeys/{name}) into
 * the flat fields GET /v1/journeys gives, so both screens say it alike.
 */
export function triggerFields(trig) {
  if (!trig) return null;
  if (trig.event) return { kind: 'event', event: trig.event, when: trig.when };
  if (trig.date) return { kind: 'date', ...trig.date };
  if (trig.inactivity) return { kind: 'inactivity', ...trig.inactivity };
  if (trig.api) return { kind: 'api' };
  if (trig.broadcast) return { kind: 'broadcast', ...trig.broadcast };
  return null;
}

/**
 * triggerLine says what enters members in the viewer's language, from the
 * trigger's fields (event names, attributes and CEL conditions stay as
 * written: they are the definition's words). The API's English summary is
 * the fallback for a kind this console does not know.
 */
export function triggerLine(tr) {
  if (!tr || !tr.kind) return '';
  const at = (text) => (tr.at ? t('trigger_line.at', { text, at: tr.at }) : text);
  switch (tr.kind) {
    case 'event':
      return tr.when ? t('trigger_line.event_when', { event: tr.event, when: tr.when }) : tr.event || '';
    case 'date': {
      const attribute = tx('date_attribute', tr.attribute);
      const off = String(tr.offset || '');
      if (!off || /^-?0[a-z]*$/.test(off)) return at(attribute);
      const key = off.startsWith('-') ? 'trigger_line.date_before' : 'trigger_line.date_after';
      return at(t(key, { attribute, offset: duration(off) }));
    }
    case 'inactivity':
      return at(t('trigger_line.inactivity', { event: tr.event, for: duration(tr.for) }));
    case 'api':
      return t('trigger_line.api');
    case 'broadcast': {
      let text;
      if (tr.every === 'once') text = t('trigger_line.once', { date: day(tr.date) });
      else if (tr.every === 'day') text = t('trigger_line.every_day');
      else if (tr.every === 'week') text = t('trigger_line.every_week', { weekday: tx('weekday', tr.weekday) });
      else if (tr.every === 'month') text = t('trigger_line.every_month', { day: tr.day });
      else text = tr.summary || tr.every || '';
      text = at(text);
      return tr.audience ? t('trigger_line.audience', { text, audience: tr.audience }) : text;
    }
    default:
      return tr.summary || '';
  }
}

/** triggerText is the kind, translated, and its line. */
export function triggerText(trigger) {
  if (!trigger || !trigger.kind) return '—';
  const kind = tx('trigger', trigger.kind);
  const line = triggerLine(trigger);
  return line ? t('trigger_line.with_kind', { kind, line }) : kind;
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
