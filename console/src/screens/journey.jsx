// Journey: the steps as a graph with their counts, the funnel and sends
// per day, the lift over the holdout, the definition in an editor checked
// as the marketer types, save draft and publish, a simulation of the
// journey as published or of the editor's text, and the versions with a
// side-by-side diff.
// "New journey" opens the same screen with a template in the editor.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { t, tx } from '../i18n.js';
import { dateTime, num, pct } from '../format.js';
import { ErrorBanner, Loading, Notice, useTitle } from '../ui.jsx';
import { Graph, kindOf } from './graph.jsx';
import { Days, Funnel } from './charts.jsx';
import { createDiff, createEditor, position } from './editor.js';
import { reasonText } from './member.jsx';
import { triggerFields, triggerText } from './journeys.jsx';
import { LiftPanel } from './lift.jsx';
import { SimulatePanel } from './simulate.jsx';

export const template = `# A new journey: change the name, trigger and steps, then publish.
name: my_journey
description: What this journey is for
priority: 10
trigger:
  event: member.registered
entry:
  once: true
goal:
  event: order.paid
  exit: true
steps:
  - id: welcome
    send: { email: activation_welcome }
  - id: wait_a_bit
    delay: { for: 3d }
  - id: nudge
    send: { email: activation_nudge }
    expires: 4d
`;

/** nameIn reads the journey name a definition gives itself. */
export function nameIn(src) {
  const m = /^name:[ \t]*["']?([a-z][a-z0-9_]*)["']?[ \t]*(#.*)?$/m.exec(src);
  return m ? m[1] : '';
}

export function JourneyScreen({ name, isNew }) {
  useTitle(isNew ? t('journey.new_title') : t('journey.title', { name }));
  const [detail, setDetail] = useState(null);
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);
  // The editor's text, read by the simulate panel when it simulates a draft.
  const editorText = useRef(() => '');
  useEffect(() => {
    if (isNew) return;
    api.get(`/v1/journeys/${enc(name)}`).then(setDetail, setError);
    api.get(`/v1/journeys/${enc(name)}/stats`).then(setStats, setError);
  }, [name, reload]);

  if (isNew) {
    return (
      <section aria-labelledby="journey-h">
        <div class="screen-head">
          <h1 id="journey-h">{t('journey.new_title')}</h1>
          <a href="#/journeys">{t('journey.back')}</a>
        </div>
        <Editor
          initial={template}
          source="template"
          textRef={editorText}
          onPublished={(p) => {
            // The address now names the journey (a reload opens it) without
            // leaving the editor and its result.
            history.replaceState(null, '', `#/journeys/${enc(p.name)}`);
          }}
        />
        <SimulatePanel isNew draft={() => editorText.current()} nameOf={nameIn} />
      </section>
    );
  }
  return (
    <section aria-labelledby="journey-h">
      <div class="screen-head">
        <h1 id="journey-h">{name}</h1>
        {detail && (
          <span class={`status status-${detail.status}`} data-status={detail.status}>
            {tx('status', detail.status)}
          </span>
        )}
        <a href="#/journeys">{t('journey.back')}</a>
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!detail && !error && <Loading />}
      {detail && (
        <>
          {detail.definition && detail.definition.description && <p class="lead">{detail.definition.description}</p>}
          <Summary detail={detail} stats={stats} />
          <section class="card" aria-labelledby="graph-h">
            <h2 id="graph-h">{t('journey.graph')}</h2>
            {detail.definition ? (
              <Graph def={detail.definition} stats={stats} />
            ) : (
              <p class="muted">{t('journey.no_live')}</p>
            )}
          </section>
          {stats && (
            <div class="grid grid-2">
              <section class="card" aria-label={t('charts.funnel')}>
                <Funnel stats={stats} />
              </section>
              <section class="card" aria-label={t('charts.days')}>
                <Days stats={stats} />
              </section>
            </div>
          )}
          {stats && detail.definition && <StepTable def={detail.definition} stats={stats} />}
          <LiftPanel name={name} />
          <Editor
            name={name}
            textRef={editorText}
            initial={detail.draft || detail.source || template.replace('my_journey', name)}
            source={detail.draft ? 'draft' : detail.source ? 'live' : 'template'}
            live={detail.live}
            onPublished={(p) => {
              // The name check reads the usual `name:` line; should a
              // definition name itself some other way, the screen follows
              // the journey that was published rather than show this one.
              if (p.name && p.name !== name) location.hash = `#/journeys/${enc(p.name)}`;
              else setReload((n) => n + 1);
            }}
          />
          <SimulatePanel name={name} draft={() => editorText.current()} nameOf={nameIn} />
          <Versions name={name} versions={detail.versions || []} />
        </>
      )}
    </section>
  );
}

function Summary({ detail, stats }) {
  const d = detail.definition || {};
  const enrolled = (stats && stats.enrolled) ?? detail.enrolled;
  const goal = stats ? stats.goal_reached : undefined;
  return (
    <div class="stats">
      <Stat label={t('journeys.live')} value={detail.live ? t('journeys.version_n', { n: detail.live }) : '—'} />
      <Stat label={t('journeys.trigger')} value={triggerText(triggerFields(d.trigger))} />
      <Stat label={t('journeys.enrolled')} value={num(enrolled)} />
      <Stat label={t('journeys.active')} value={num((stats && stats.active) ?? detail.active)} />
      <Stat label={t('stats.goal_reached')} value={goal === undefined ? '—' : `${num(goal)} (${pct(enrolled ? goal / enrolled : 0)})`} />
      {stats && stats.exited && Object.keys(stats.exited).length > 0 && (
        <Stat
          label={t('journey.exited')}
          value={num(Object.values(stats.exited).reduce((a, b) => a + b, 0))}
          sub={Object.entries(stats.exited)
            .map(([r, n]) => `${reasonText(r)} ${num(n)}`)
            .join(' · ')}
        />
      )}
    </div>
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

/** StepTable is the graph's counts as a table (readable without the picture). */
function StepTable({ def, stats }) {
  const by = Object.fromEntries((stats.steps || []).map((s) => [s.step, s]));
  return (
    <section class="card" aria-labelledby="steps-h">
      <h2 id="steps-h">{t('journey.steps')}</h2>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th scope="col">{t('journey.step')}</th>
              <th scope="col">{t('journey.kind')}</th>
              <th scope="col" class="num">{t('stats.sent')}</th>
              <th scope="col">{t('stats.skipped')}</th>
              <th scope="col" class="num">{t('stats.delivered')}</th>
              <th scope="col" class="num">{t('stats.opened')}</th>
              <th scope="col" class="num">{t('stats.clicked')}</th>
              <th scope="col" class="num">{t('stats.conversions')}</th>
            </tr>
          </thead>
          <tbody>
            {def.steps.map((s) => {
              const st = by[s.id] || {};
              const skipped = Object.entries(st.skipped || {}).filter(([, n]) => n);
              return (
                <tr key={s.id}>
                  <th scope="row">{s.id}</th>
                  <td>{tx('step', kindOf(s))}</td>
                  <td class="num">{num(st.sent || 0)}</td>
                  <td>{skipped.length ? skipped.map(([r, n]) => `${reasonText(r)} ${num(n)}`).join(' · ') : '—'}</td>
                  <td class="num">{num(st.delivered || 0)}</td>
                  <td class="num">{num(st.opened || 0)}</td>
                  <td class="num">{num(st.clicked || 0)}</td>
                  <td class="num">{num(st.conversions || 0)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Editor({ name, initial, source, live, onPublished, textRef }) {
  const host = useRef(null);
  const view = useRef(null);
  const [state, setState] = useState('checking');
  const [problems, setProblems] = useState([]);
  const [checkError, setCheckError] = useState(null);
  const [result, setResult] = useState(null); // {ok, text}
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    view.current = createEditor(host.current, initial, {
      label: t('journey.editor_label'),
      describedBy: 'editor-hint',
      onChecking: () => setState('checking'),
      onProblems: (ps, err) => {
        setCheckError(err);
        if (err) {
          setState('problems');
          return;
        }
        setProblems(ps);
        setState(ps.length ? 'problems' : 'ok');
      },
    });
    return () => view.current.destroy();
  }, []);
  const text = () => view.current.state.doc.toString();
  if (textRef) textRef.current = () => (view.current ? text() : '');
  const jumpTo = (p) => {
    const v = view.current;
    const { from } = position(v.state.doc, p.line, p.column);
    v.dispatch({ selection: { anchor: from }, scrollIntoView: true });
    v.focus();
  };
  const showProblems = (err) => {
    if (err.status === 422 && err.body && err.body.problems) {
      setProblems(err.body.problems);
      setState('problems');
    }
    setError(err);
  };
  // On a journey's screen the definition must keep the journey's name, for
  // Save draft and Publish alike: publishing a renamed copy from here would
  // quietly start a second journey. A new journey starts from New journey.
  const renamed = (src) => {
    const written = nameIn(src);
    if (!name || !written || written === name) return false;
    setResult({ ok: false, text: t('journey.name_mismatch', { name, written }) });
    return true;
  };
  const save = async () => {
    const src = text();
    const target = name || nameIn(src);
    setError(null);
    setResult(null);
    if (!target) {
      setResult({ ok: false, text: t('journey.no_name') });
      return;
    }
    if (renamed(src)) return;
    setBusy(true);
    try {
      await api.put(`/v1/journeys/${enc(target)}/draft`, { body: src });
      setResult({ ok: true, text: t('journey.draft_saved', { name: target }) });
    } catch (err) {
      showProblems(err);
    } finally {
      setBusy(false);
    }
  };
  const publish = async () => {
    const src = text();
    setError(null);
    setResult(null);
    if (renamed(src)) return;
    setBusy(true);
    try {
      const p = await api.post('/v1/journeys', { body: src });
      setResult({
        ok: true,
        name: p.name,
        text: p.unchanged
          ? t('journey.unchanged', { name: p.name, version: p.version })
          : t('journey.published', { name: p.name, version: p.version, older: num(p.enrollments_on_older_versions || 0) }),
      });
      onPublished(p);
    } catch (err) {
      showProblems(err);
    } finally {
      setBusy(false);
    }
  };
  const sourceNote = source === 'draft' ? t('journey.editing_draft') : source === 'live' ? t('journey.editing_live', { n: live }) : t('journey.editing_template');
  return (
    <section class="card" aria-labelledby="editor-h">
      <div class="card-head">
        <h2 id="editor-h">{t('journey.definition')}</h2>
        <span class={`validate validate-${state}`} data-testid="validate-state" data-state={state} role="status" aria-live="polite">
          {t(`journey.validate_${state}`, { count: problems.length })}
        </span>
      </div>
      <p class="muted small">{sourceNote}</p>
      <div class="editor" data-testid="editor" ref={host} />
      <p id="editor-hint" class="muted small">
        {t('journey.editor_hint')}
      </p>
      {checkError && <ErrorBanner error={checkError} />}
      <div class="problems-wrap">
        <h3 id="problems-h" class="sr-only">
          {t('journey.problems')}
        </h3>
        <ul class="problems" data-testid="problems" aria-labelledby="problems-h">
          {problems.map((p, i) => (
            <li key={i} data-testid="problem" data-path={p.path} data-line={p.line || undefined}>
              <button type="button" class="link" onClick={() => jumpTo(p)} title={t('journey.jump', { path: p.path, line: p.line || '?' })}>
                <code>{p.path}</code>
                {p.line ? <span class="muted"> · {t('journey.line', { line: p.line, column: p.column || 1 })}</span> : null}
              </button>
              <span class="problem-text">
                {t('journey.problem_prefix')}: <span lang="en">{p.rule || p.message}</span>
              </span>
            </li>
          ))}
        </ul>
      </div>
      <div class="actions-row">
        <button type="button" data-testid="save-draft" onClick={save} disabled={busy}>
          {t('journey.save_draft')}
        </button>
        <button type="button" class="primary" data-testid="publish" onClick={publish} disabled={busy}>
          {t('journey.publish')}
        </button>
        <span data-testid="publish-result" class={result ? (result.ok ? 'ok-text' : 'error-text') : ''} role="status" aria-live="polite">
          {result ? result.text : ''}
          {result && result.ok && result.name && !name && (
            <>
              {' '}
              <a href={`#/journeys/${enc(result.name)}`}>{t('journey.open', { name: result.name })}</a>
            </>
          )}
        </span>
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
    </section>
  );
}

function Versions({ name, versions }) {
  const [a, setA] = useState(versions.length > 1 ? versions[1].version : versions.length ? versions[0].version : 0);
  const [b, setB] = useState(versions.length ? versions[0].version : 0);
  const [error, setError] = useState(null);
  const [shown, setShown] = useState(null);
  const host = useRef(null);
  const merge = useRef(null);
  const sources = useRef({});
  const source = async (n) => {
    if (!(n in sources.current)) {
      const v = await api.get(`/v1/journeys/${enc(name)}/versions/${n}`);
      sources.current[n] = v.source || JSON.stringify(v.definition, null, 2);
    }
    return sources.current[n];
  };
  const compare = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const [sa, sb] = await Promise.all([source(a), source(b)]);
      if (merge.current) merge.current.destroy();
      host.current.textContent = '';
      merge.current = createDiff(host.current, sa, sb, t('journey.version_n', { n: a }), t('journey.version_n', { n: b }));
      setShown([a, b]);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => () => merge.current && merge.current.destroy(), []);
  return (
    <section class="card" aria-labelledby="versions-h" data-testid="versions">
      <h2 id="versions-h">{t('journey.versions')}</h2>
      {versions.length === 0 ? (
        <p class="muted">{t('journey.no_versions')}</p>
      ) : (
        <>
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th scope="col">{t('journey.version')}</th>
                  <th scope="col">{t('journey.published_at')}</th>
                  <th scope="col">{t('journey.published_by')}</th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr key={v.version}>
                    <th scope="row">{t('journey.version_n', { n: v.version })}</th>
                    <td>{dateTime(v.published_at)}</td>
                    <td>
                      <code>{v.published_by || '—'}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <form class="diff-form" onSubmit={compare}>
            <label for="diff-a">{t('journey.compare_left')}</label>
            <select id="diff-a" value={a} onChange={(e) => setA(Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  {t('journey.version_n', { n: v.version })}
                </option>
              ))}
            </select>
            <label for="diff-b">{t('journey.compare_right')}</label>
            <select id="diff-b" value={b} onChange={(e) => setB(Number(e.currentTarget.value))}>
              {versions.map((v) => (
                <option key={v.version} value={v.version}>
                  {t('journey.version_n', { n: v.version })}
                </option>
              ))}
            </select>
            <button type="submit">{t('journey.compare')}</button>
          </form>
        </>
      )}
      <ErrorBanner error={error} />
      {shown && <p class="muted small">{t('journey.diff_of', { a: shown[0], b: shown[1] })}</p>}
      <div class="diff" data-testid="versions-diff" ref={host} />
    </section>
  );
}
