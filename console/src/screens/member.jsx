// Member: search by id, then one member's profile, tier and progress,
// growth, points, coupons, stored value, paid membership, enrollments,
// ledger pages and the engine's timeline — each decision with its reason
// and the condition values that made it. Three calls in parallel (member,
// first ledger page, first timeline page); older pages on demand.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { has, t, tx } from '../i18n.js';
import { dateOnly, dateTime, day, fixed, inZone, money, num, pct, value, viewerZone } from '../format.js';
import { ErrorBanner, KeyValues, Loading, useTitle } from '../ui.jsx';

export function MemberScreen({ id }) {
  useTitle(id ? `${t('member.title')} ${id}` : t('member.title'));
  const input = useRef(null);
  const submit = (e) => {
    e.preventDefault();
    const v = input.current.value.trim();
    if (v) location.hash = `#/members/${enc(v)}`;
  };
  return (
    <section aria-labelledby="member-h">
      <div class="screen-head">
        <h1 id="member-h">{id ? t('member.title_id', { id }) : t('member.title')}</h1>
        <form class="search" role="search" onSubmit={submit}>
          <label for="member-search">{t('member.search')}</label>
          <input id="member-search" ref={input} type="search" data-testid="member-search" defaultValue={id} autocomplete="off" placeholder={t('member.search_placeholder')} />
          <button type="submit" class="primary" data-testid="member-search-submit">
            {t('member.search_submit')}
          </button>
        </form>
      </div>
      {id ? <Member id={id} /> : <p class="muted">{t('member.hint')}</p>}
    </section>
  );
}

function Member({ id }) {
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get(`/v1/members/${enc(id)}`).then(setDoc, setError);
  }, [id]);
  if (error) return <ErrorBanner error={error} />;
  if (!doc) return <Loading />;
  const currency = doc.stored_value && doc.stored_value.currency;
  return (
    <div class="member">
      <div class="grid">
        <Profile doc={doc} />
        <Tier doc={doc} />
        <Points doc={doc} />
        <Wallet doc={doc} currency={currency} />
        {doc.rfm && <Scores doc={doc} />}
      </div>
      <Coupons doc={doc} />
      <Enrollments doc={doc} />
      <Timeline id={id} zone={doc.timezone} />
      <Ledger id={id} currency={currency} />
    </div>
  );
}

function Card({ title, testid, children, id }) {
  const hid = `h-${id || testid}`;
  return (
    <section class="card" aria-labelledby={hid} data-testid={testid}>
      <h2 id={hid}>{title}</h2>
      {children}
    </section>
  );
}

function Profile({ doc }) {
  const c = doc.consent || {};
  return (
    <Card title={t('member.profile')} testid="member-profile">
      <KeyValues
        items={[
          [t('member.id'), doc.id],
          [t('member.name'), doc.name],
          [t('member.email'), doc.email],
          [t('member.timezone'), doc.timezone],
          [t('member.locale'), doc.locale],
          [t('member.registered_at'), dateTime(doc.registered_at)],
          [t('member.last_order_at'), dateTime(doc.last_order_at)],
          [t('member.order_count'), num(doc.order_count)],
          [t('member.consent'), c.email_marketing ? t('member.consent_yes') : t('member.consent_no')],
          c.unsubscribed_groups && c.unsubscribed_groups.length > 0 && [t('member.unsubscribed_groups'), c.unsubscribed_groups.join(', ')],
          doc.tags && doc.tags.length > 0 && [t('member.tags'), doc.tags.join(', ')],
          doc.badges && doc.badges.length > 0 && [t('member.badges'), doc.badges.join(', ')],
          doc.referral && doc.referral.code && [t('member.referral'), doc.referral.code],
          doc.attributes && Object.keys(doc.attributes).length > 0 && [t('member.attributes'), <code>{JSON.stringify(doc.attributes)}</code>],
        ]}
      />
    </Card>
  );
}

function Tier({ doc }) {
  const next = doc.next_tier;
  const g = doc.growth || {};
  let progress = null;
  if (next) {
    const threshold = Number(next.threshold);
    const needed = Number(next.growth_needed);
    const done = threshold > 0 ? Math.min(1, Math.max(0, (threshold - needed) / threshold)) : 1;
    progress = (
      <div class="progress-block">
        <label for="tier-progress">{t('member.to_next', { tier: next.name || next.code, needed: next.growth_needed })}</label>
        <progress id="tier-progress" max="100" value={Math.round(done * 100)}>
          {Math.round(done * 100)}%
        </progress>
      </div>
    );
  }
  const o = doc.tier_outlook || {};
  return (
    <Card title={t('member.tier')} testid="member-tier">
      <p class="big">
        {doc.tier_name || doc.tier} <span class="muted">({doc.tier})</span>
      </p>
      {progress || <p class="muted">{t('member.top_tier')}</p>}
      <KeyValues
        items={[
          [t('member.tier_review_on'), doc.tier_review_on || '—'],
          o.review_on && [t('member.outlook'), o.demote ? t('member.outlook_demote', { tier: o.fall_to_name || o.fall_to, day: o.review_on, needed: o.growth_needed }) : t('member.outlook_keep', { day: o.review_on })],
          [t('member.growth_counted'), g.counted],
          [t('member.growth_spend'), g.spend],
          [t('member.growth_interaction'), g.interaction],
          [t('member.growth_reward'), g.reward],
        ]}
      />
    </Card>
  );
}

function Points({ doc }) {
  const p = doc.points || {};
  const exp = p.expiring_next;
  return (
    <Card title={t('member.points')} testid="member-points">
      <KeyValues
        items={[
          [t('member.points_available'), num(p.available)],
          [t('member.points_pending'), num(p.pending)],
          p.shortfall ? [t('member.points_shortfall'), num(p.shortfall)] : null,
          [t('member.points_expiring'), exp ? t('member.expiring_at', { amount: num(exp.amount), at: dateOnly(exp.at) }) : t('member.none')],
          ...(doc.boosts || []).map((b, i) => [t('member.boost', { n: i + 1 }), t('member.boost_until', { multiplier: b.multiplier, until: dateTime(b.until) })]),
        ]}
      />
    </Card>
  );
}

function Wallet({ doc, currency }) {
  const sv = doc.stored_value || {};
  const paid = doc.paid;
  return (
    <Card title={t('member.wallet')} testid="member-wallet">
      <KeyValues
        items={[
          [t('member.sv_principal'), money(sv.principal, currency)],
          [t('member.sv_bonus'), money(sv.bonus, currency)],
          [
            t('member.paid'),
            paid
              ? t('member.paid_line', {
                  plan: paid.plan,
                  status: tx('paid_status', paid.status),
                  trial: paid.trial ? t('member.trial') : '',
                  ends: dateOnly(paid.ends_at),
                })
              : t('member.none'),
          ],
        ]}
      />
    </Card>
  );
}

/**
 * Scores: what the nightly analytics refresh wrote on the member (RFM
 * scores and segment, P(alive), expected orders in 90 days, 12-month CLV),
 * shown when it has scored them. The segment's name is the programme's
 * (GET /v1/program), its code when the programme no longer has it.
 */
function Scores({ doc }) {
  const [names, setNames] = useState({});
  useEffect(() => {
    api.get('/v1/program').then(
      (p) => setNames(Object.fromEntries(((p.rfm && p.rfm.segments) || []).map((s) => [s.code, s.name]))),
      () => setNames({}),
    );
  }, []);
  const rfm = doc.rfm || {};
  const info = doc.analytics || {};
  return (
    <Card title={t('member.scores')} testid="member-scores">
      <KeyValues
        items={[
          [
            t('member.segment'),
            <span data-testid="member-segment" data-segment={rfm.segment}>
              {names[rfm.segment] || rfm.segment || '—'}
            </span>,
          ],
          [t('member.rfm_scores'), t('member.rfm_line', { r: rfm.r, f: rfm.f, m: rfm.m })],
          [t('member.p_alive'), <span data-testid="member-p-alive">{pct(doc.p_alive)}</span>],
          [t('member.expected_orders_90d'), <span data-testid="member-expected-orders">{fixed(doc.expected_orders_90d, 2)}</span>],
          [t('member.clv_12m'), <span data-testid="member-clv">{money(doc.clv_12m, info.currency)}</span>],
          [t('member.scored_as_of'), info.as_of ? t('member.scored_line', { day: day(info.as_of), version: info.model_version }) : '—'],
        ]}
      />
      <p class="muted small">
        <a href="#/analytics">{t('member.scores_link')}</a>
      </p>
    </Card>
  );
}

function Coupons({ doc }) {
  const list = doc.coupons || [];
  return (
    <Card title={t('member.coupons')} testid="member-coupons">
      {list.length === 0 ? (
        <p class="muted">{t('member.no_coupons')}</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th scope="col">{t('member.coupon_code')}</th>
                <th scope="col">{t('member.coupon_kind')}</th>
                <th scope="col">{t('member.coupon_expires')}</th>
                <th scope="col">{t('member.coupon_state')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={c.code}>
                  <td>
                    <code>{c.code}</code>
                  </td>
                  <td>{c.kind}</td>
                  <td>{dateTime(c.expires_at)}</td>
                  <td>{c.used ? t('member.coupon_used') : t('member.coupon_unused')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function Enrollments({ doc }) {
  const list = doc.enrollments || [];
  return (
    <Card title={t('member.enrollments')} testid="member-enrollments">
      {list.length === 0 ? (
        <p class="muted">{t('member.no_enrollments')}</p>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th scope="col">{t('member.journey')}</th>
                <th scope="col" class="num">{t('member.number')}</th>
                <th scope="col">{t('member.enr_status')}</th>
                <th scope="col">{t('member.step')}</th>
                <th scope="col">{t('member.started')}</th>
                <th scope="col">{t('member.ended')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={`${e.journey}#${e.number}`} data-journey={e.journey}>
                  <td>
                    <a href={`#/journeys/${enc(e.journey)}`}>{e.journey}</a>
                    {e.version ? <span class="muted"> v{e.version}</span> : null}
                  </td>
                  <td class="num">{e.number}</td>
                  <td>
                    {tx('enrollment', e.status)}
                    {e.held ? ` · ${t('member.held')}` : ''}
                    {e.reason ? ` · ${tx('reason', e.reason)}` : ''}
                  </td>
                  <td>{e.step || '—'}</td>
                  <td>{dateTime(e.started_at)}</td>
                  <td>{dateTime(e.ended_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

/** Timeline: the engine's decisions, newest first, in pages. */
function Timeline({ id, zone }) {
  const [entries, setEntries] = useState([]);
  const [next, setNext] = useState(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const load = (before) => {
    const q = before ? `?before=${enc(before)}` : '';
    api.get(`/v1/members/${enc(id)}/timeline${q}`).then(
      (page) => {
        setEntries((old) => (before ? old.concat(page.entries || []) : page.entries || []));
        setNext(page.next || null);
        setLoaded(true);
      },
      setError,
    );
  };
  useEffect(() => load(''), [id]);
  const vz = viewerZone();
  return (
    <Card title={t('member.timeline')} testid="timeline" id="timeline-card">
      <p class="muted small">{t('member.timeline_help', { zone: vz })}</p>
      <ErrorBanner error={error} />
      {!loaded && !error && <Loading />}
      {loaded && entries.length === 0 && <p class="muted">{t('member.no_timeline')}</p>}
      <ol class="timeline">
        {entries.map((e, i) => (
          <li key={i} class={`tl tl-${e.kind}`} data-testid="timeline-entry" data-kind={e.kind} data-journey={e.journey} data-step={e.step}>
            <div class="tl-head">
              <span class={`kind kind-${e.kind}`}>{tx('kind', e.kind)}</span>
              {e.reason && (
                <span class="reason" data-reason={e.reason}>
                  {reasonText(e.reason)}
                </span>
              )}
              <span class="tl-where">
                {e.journey && <a href={`#/journeys/${enc(e.journey)}`}>{e.journey}</a>}
                {e.version ? ` v${e.version}` : ''}
                {e.enrollment ? ` #${e.enrollment}` : ''}
                {e.step ? ` · ${t('member.step')}: ${e.step}` : ''}
              </span>
            </div>
            <div class="tl-time small">
              <time datetime={e.at}>{dateTime(e.at)}</time>
              {zone && zone !== vz && <span class="muted"> · {t('member.member_time', { at: inZone(e.at, zone) })}</span>}
              {e.until && (
                <span>
                  {' · '}
                  {t('member.until', { at: dateTime(e.until) })}
                  {zone && <span class="muted"> ({inZone(e.until, zone)})</span>}
                </span>
              )}
            </div>
            {e.values && Object.keys(e.values).length > 0 && (
              <dl class="values">
                {Object.entries(e.values).map(([k, v]) => [
                  <dt key={k + 't'}>
                    <code>{k}</code>
                  </dt>,
                  <dd key={k + 'd'}>
                    <code>{value(v)}</code>
                  </dd>,
                ])}
              </dl>
            )}
          </li>
        ))}
      </ol>
      {next && (
        <button type="button" onClick={() => load(next)}>
          {t('member.older')}
        </button>
      )}
    </Card>
  );
}

/** reasonText translates a reason; "contact_policy: frequency_cap" translates both parts. */
export function reasonText(reason) {
  const [head, ...rest] = String(reason).split(':');
  if (rest.length) return `${tx('reason', head.trim())}: ${tx('reason', rest.join(':').trim())}`;
  if (/^case \d+$/.test(reason)) return t('reason.case_n', { n: Number(reason.slice(5)) + 1 });
  return tx('reason', reason);
}

/**
 * ruleText translates a ledger rule code ("order.points", "tier.upgrade",
 * a growth source's "review.capped"): the catalogue keys them with "_" for
 * ".", and a ".refused" or ".capped" rule the catalogue does not name is
 * its base rule's text with the outcome. An unknown code shows as it is.
 */
export function ruleText(rule) {
  const code = String(rule || '');
  const key = (c) => `ledger_rule.${c.replace(/\./g, '_')}`;
  if (has(key(code))) return t(key(code));
  const m = /^(.+)\.(refused|capped)$/.exec(code);
  if (m) return t(`ledger_rule.outcome_${m[2]}`, { rule: has(key(m[1])) ? t(key(m[1])) : m[1] });
  return code;
}

/** Ledger: the append-only lines, newest first, 50 a page. */
function Ledger({ id, currency }) {
  const [entries, setEntries] = useState([]);
  const [next, setNext] = useState(0);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState(null);
  const load = (before) => {
    const q = before ? `?before=${before}` : '';
    api.get(`/v1/members/${enc(id)}/ledger${q}`).then(
      (page) => {
        setEntries((old) => (before ? old.concat(page.entries || []) : page.entries || []));
        setNext(page.next_before || 0);
        setLoaded(true);
      },
      setError,
    );
  };
  useEffect(() => load(0), [id]);
  return (
    <Card title={t('member.ledger')} testid="member-ledger">
      <ErrorBanner error={error} />
      {!loaded && !error && <Loading />}
      {loaded && entries.length === 0 && <p class="muted">{t('member.no_ledger')}</p>}
      {entries.length > 0 && (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th scope="col" class="num">#</th>
                <th scope="col">{t('member.at')}</th>
                <th scope="col">{t('member.rule')}</th>
                <th scope="col">{t('member.reason')}</th>
                <th scope="col" class="num">{t('member.points_pending')}</th>
                <th scope="col" class="num">{t('member.points_available')}</th>
                <th scope="col" class="num">{t('member.sv')}</th>
                <th scope="col" class="num">{t('member.growth')}</th>
                <th scope="col">{t('member.other')}</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.seq}>
                  <td class="num">{e.seq}</td>
                  <td>{dateTime(e.at)}</td>
                  <td data-rule={e.rule} title={e.rule}>
                    {ruleText(e.rule)}
                  </td>
                  <td lang="en">{e.reason}</td>
                  <td class="num">{signed(e.points_pending)}</td>
                  <td class="num">{signed(e.points_available)}</td>
                  <td class="num">{nonZero(e.stored_value_principal, e.stored_value_bonus, currency)}</td>
                  <td class="num">{e.growth && e.growth !== '0' ? e.growth : ''}</td>
                  <td class="small">
                    {e.tier ? `${t('member.tier')}: ${e.tier} ` : ''}
                    {e.coupon ? `${e.coupon.delta > 0 ? '+' : '−'}${e.coupon.kind} ` : ''}
                    {e.actor ? `(${e.actor})` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {next > 0 && (
        <button type="button" onClick={() => load(next)}>
          {t('member.older')}
        </button>
      )}
    </Card>
  );
}

function signed(n) {
  if (!n) return '';
  return n > 0 ? `+${num(n)}` : num(n);
}

function nonZero(principal, bonus, currency) {
  const parts = [];
  if (principal && principal !== '0') parts.push(money(principal, currency));
  if (bonus && bonus !== '0') parts.push(`${t('member.sv_bonus')} ${money(bonus, currency)}`);
  return parts.join(' · ');
}
