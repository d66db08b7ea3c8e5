// The journey's steps as a graph: laid out by dagre (no hand-written
// layout) and drawn as SVG. Nodes carry their counts from the stats
// endpoint; edges the number of members who took them.
import { graphlib, layout } from '@dagrejs/dagre';
import { t, tx } from '../i18n.js';
import { num } from '../format.js';
import { reasonText } from './member.jsx';
import { triggerFields, triggerLine } from './journeys.jsx';

const START = '__start';
const END = '__end';
const EXITS = '__exits';

/** kindOf is a step's kind as the language defines it (send wins over reward). */
export function kindOf(s) {
  if (s.send) return 'send';
  if (s.reward) return 'reward';
  for (const k of ['delay', 'wait', 'branch', 'split', 'update', 'webhook', 'end']) if (s[k]) return k;
  return '';
}

/** targets mirrors journey.Definition.Targets: where step i can go, with a label per edge. */
export function targets(def, i) {
  const s = def.steps[i];
  const out = [];
  const add = (to, label) => {
    if (to && !out.some((o) => o.to === to)) out.push({ to, label });
  };
  const next = () => (s.goto ? s.goto : i + 1 < def.steps.length ? def.steps[i + 1].id : 'end');
  switch (kindOf(s)) {
    case 'end':
      break;
    case 'wait':
      add(s.wait.on_event, t('graph.on_event'));
      add(s.wait.on_timeout, t('graph.on_timeout'));
      break;
    case 'branch':
      s.branch.forEach((c, n) => add(c.goto, c.when ? `${t('graph.case', { n: n + 1 })}: ${c.when}` : t('graph.otherwise')));
      if (!s.branch.length || s.branch[s.branch.length - 1].when) add('end', t('graph.no_case'));
      break;
    case 'split': {
      const total = s.split.reduce((a, p) => a + (p.weight || 0), 0) || 1;
      s.split.forEach((p) => add(p.goto, `${Math.round(((p.weight || 0) * 100) / total)}%`));
      break;
    }
    default:
      add(next(), s.goto ? t('graph.goto') : '');
  }
  return out;
}

function detail(s) {
  switch (kindOf(s)) {
    case 'send':
      return [`✉ ${s.send.email}`, s.reward ? `${t('step.reward')}: ${rewardText(s.reward)}` : null, s.expires ? t('graph.expires', { d: s.expires }) : null];
    case 'reward':
      return [rewardText(s.reward)];
    case 'delay':
      return [s.delay.for ? t('graph.for', { d: s.delay.for }) : s.delay.until ? t('graph.until', { at: s.delay.until }) : s.delay.until_date ? t('graph.until_date', { attr: s.delay.until_date.attribute }) : ''];
    case 'wait': {
      const ev = [].concat(s.wait.event || []).join(', ');
      return [t('graph.wait_for', { event: ev }), s.wait.timeout ? t('graph.timeout', { d: s.wait.timeout }) : null];
    }
    case 'update':
      return [Object.keys(s.update.set || {}).concat((s.update.add_tags || []).map((x) => '+' + x), (s.update.remove_tags || []).map((x) => '−' + x)).join(', ')];
    case 'webhook':
      return [shorten(s.webhook.url, 28)];
    case 'end':
      return [s.end.reason ? tx('reason', s.end.reason) : ''];
    default:
      return [];
  }
}

function rewardText(r) {
  const parts = [];
  if (r.coupon) parts.push(r.coupon);
  if (r.points) parts.push(t('graph.points', { n: r.points }));
  if (r.boost) parts.push(`×${r.boost.multiplier} ${t('graph.days', { n: r.boost.days })}`);
  if (r.birthday_gift) parts.push(t('graph.birthday_gift'));
  return parts.join(' + ');
}

function shorten(s, n) {
  s = String(s || '');
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** textWidth estimates a line's width in px (CJK characters count double). */
function textWidth(s, px = 7) {
  let w = 0;
  for (const ch of String(s)) w += ch.charCodeAt(0) > 0x2e80 ? px * 1.9 : px;
  return w;
}

/** countLines are a step's counts, only those that are not zero (sent always for sends). */
function countLines(s, st) {
  if (!st) return kindOf(s) === 'send' ? [[t('stats.sent'), 0]] : [];
  const lines = [];
  const kind = kindOf(s);
  if (kind === 'send' || st.sent) lines.push([t('stats.sent'), st.sent || 0]);
  if (st.deferred) lines.push([t('stats.deferred'), st.deferred]);
  for (const [reason, n] of Object.entries(st.skipped || {})) if (n) lines.push([`${t('stats.skipped')}: ${reasonText(reason)}`, n]);
  for (const k of ['delivered', 'opened', 'clicked', 'bounced', 'unsubscribed', 'conversions']) if (st[k]) lines.push([t(`stats.${k}`), st[k]]);
  return lines;
}

/** buildGraph lays the definition out; returns nodes and edges with positions. */
export function buildGraph(def, stats) {
  const byStep = Object.fromEntries(((stats && stats.steps) || []).map((s) => [s.step, s]));
  const edgeCount = {};
  for (const e of (stats && stats.edges) || []) edgeCount[`${e.from}>${e.to}`] = e.count;
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 36, ranksep: 56, edgesep: 16, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const nodes = [];
  const addNode = (id, n) => {
    const lines = [n.title, ...(n.sub || []).filter(Boolean), ...n.counts.map(([k, v]) => `${k}: ${num(v)}`)];
    const width = Math.max(150, Math.min(320, Math.max(...lines.map((l) => textWidth(l))) + 28));
    const height = 30 + 17 * (lines.length - 1) + 8;
    n.id = id;
    n.width = width;
    n.height = height;
    nodes.push(n);
    g.setNode(id, { width, height });
  };
  const trig = def.trigger || {};
  const trigKind = ['event', 'date', 'inactivity', 'api', 'broadcast'].find((k) => trig[k]) || '';
  const trigSub = shorten(triggerLine(triggerFields(trig)), 36);
  addNode(START, {
    kind: 'start',
    title: `${t('graph.start')}: ${tx('trigger', trigKind)}`,
    sub: [trigSub, def.entry && def.entry.audience ? shorten(def.entry.audience, 36) : null],
    counts: stats ? [[t('stats.enrolled'), stats.enrolled || 0]] : [],
  });
  let needEnd = false;
  def.steps.forEach((s, i) => {
    addNode(s.id, { kind: kindOf(s), title: `${tx('step', kindOf(s))} · ${s.id}`, sub: detail(s), counts: countLines(s, byStep[s.id]) });
  });
  const edges = [];
  const addEdge = (from, to, label, count, dashed) => {
    const text = [label, count !== undefined ? t('graph.members', { count, n: num(count) }) : ''].filter(Boolean).join(' · ');
    const lab = shorten(text, 40);
    edges.push({ from, to, label: lab, count, dashed });
    g.setEdge(from, to, { label: lab, width: lab ? textWidth(lab, 6.2) + 8 : 0, height: lab ? 16 : 0, labelpos: 'c' });
  };
  if (def.steps.length) addEdge(START, def.steps[0].id, '', stats ? stats.enrolled || 0 : undefined);
  def.steps.forEach((s, i) => {
    for (const { to, label } of targets(def, i)) {
      const target = to === 'end' ? END : to;
      if (target === END) needEnd = true;
      const c = edgeCount[`${s.id}>${to}`];
      addEdge(s.id, target, label, stats ? c || 0 : undefined);
    }
  });
  if (needEnd) {
    const ended = stats && stats.exited ? Object.entries(stats.exited) : [];
    addNode(END, { kind: 'exit', title: t('graph.end'), sub: [], counts: ended.map(([r, n]) => [reasonText(r), n]) });
  }
  const goal = def.goal;
  const exits = (def.exit || []).map((e) => e.event);
  if (goal || exits.length) {
    const sub = [];
    if (goal) sub.push(`${t('graph.goal')}: ${goal.event || shorten(goal.check, 30)}${goal.exit ? ` → ${t('graph.exit')}` : ''}`);
    if (exits.length) sub.push(`${t('graph.exit_on')}: ${exits.join(', ')}`);
    addNode(EXITS, { kind: 'goal', title: t('graph.goal_exits'), sub, counts: stats ? [[t('stats.goal_reached'), stats.goal_reached || 0]] : [] });
    if (goal && goal.goto) addEdge(EXITS, goal.goto, t('graph.goal_goto'), undefined, true);
  }
  layout(g);
  const gg = g.graph();
  for (const n of nodes) {
    const p = g.node(n.id);
    n.x = p.x - n.width / 2;
    n.y = p.y - n.height / 2;
  }
  for (const e of edges) {
    const p = g.edge(e.from, e.to);
    e.points = p.points;
    e.lx = p.x;
    e.ly = p.y;
  }
  return { nodes, edges, width: gg.width || 300, height: gg.height || 200 };
}

export function Graph({ def, stats }) {
  const { nodes, edges, width, height } = buildGraph(def, stats);
  return (
    <div class="graph-scroll" tabIndex={0} role="region" aria-label={t('graph.scroll', { name: def.name })}>
      <svg
        data-testid="journey-graph"
        role="img"
        aria-labelledby="graph-title"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        class="graph"
      >
        <title id="graph-title">{t('graph.title', { name: def.name, n: def.steps.length })}</title>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
          </marker>
        </defs>
        {edges.map((e, i) => (
          <g key={`e${i}`} class={`edge${e.dashed ? ' dashed' : ''}${e.count ? ' taken' : ''}`} data-from={e.from} data-to={e.to} data-count={e.count}>
            <path d={'M' + e.points.map((p) => `${p.x},${p.y}`).join(' L')} marker-end="url(#arrow)" />
            {e.label && (
              <text x={e.lx} y={e.ly + 4} text-anchor="middle" class="edge-label">
                {e.label}
              </text>
            )}
          </g>
        ))}
        {nodes.map((n) => (
          <g key={n.id} class={`node node-${n.kind}`} data-testid={n.id.startsWith('__') ? `graph-${n.id.slice(2)}` : `graph-node-${n.id}`} transform={`translate(${n.x},${n.y})`}>
            <rect width={n.width} height={n.height} rx="8" />
            <text x="12" y="20" class="node-title">
              {n.title}
            </text>
            {[...n.sub.filter(Boolean).map((s) => ['sub', s]), ...n.counts.map(([k, v]) => ['count', `${k}: ${num(v)}`])].map(([cls, s], i) => (
              <text key={i} x="12" y={20 + 17 * (i + 1)} class={`node-${cls}`}>
                {s}
              </text>
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}
