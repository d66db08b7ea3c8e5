// The marketer console: sign-in, the shell (navigation, language) and the
// hash routes of the six screens. The journey screen (editor, graph,
// charts) is loaded on demand so the list and member screens stay light.
import './style.css';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { session, signIn, signOut, whenSignedOut } from './api.js';
import { languages, lang, setLanguage, t } from './i18n.js';
import { ErrorBanner, Loading } from './ui.jsx';
import { JourneysScreen } from './screens/journeys.jsx';
import { MemberScreen } from './screens/member.jsx';
import { ProgramScreen } from './screens/program.jsx';
import { EmailsScreen } from './screens/emails.jsx';

/** decode is decodeURIComponent that keeps a malformed part (#/members/%E0) as written instead of throwing and blanking the page. */
function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decode);
  switch (parts[0]) {
    case 'journeys':
      return parts[1] ? { screen: 'journey', name: parts[1] } : { screen: 'journeys' };
    case 'new-journey':
      return { screen: 'journey', isNew: true };
    case 'members':
      return { screen: 'members', id: parts[1] || '' };
    case 'program':
      return { screen: 'program' };
    case 'emails':
      return { screen: 'emails' };
    case 'analytics':
      return { screen: 'analytics' };
    default:
      return { screen: 'journeys' };
  }
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute);
  useEffect(() => {
    const on = () => setRoute(parseRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

/** Lazy loads a screen's module once and renders its export. */
function Lazy({ load, name, props }) {
  const [mod, setMod] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let live = true;
    load().then((m) => live && setMod(() => m[name]), (e) => live && setError(e));
    return () => {
      live = false;
    };
  }, []);
  if (error) return <ErrorBanner error={{ status: 0, message: error.message }} />;
  if (!mod) return <Loading />;
  const C = mod;
  return <C {...props} />;
}

const loadJourney = () => import('./screens/journey.jsx');
const loadAnalytics = () => import('./screens/analytics.jsx');

function SignIn({ onSignedIn, expired }) {
  const input = useRef(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = `${t('signin.title')} · memberflow`;
    input.current && input.current.focus();
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const el = input.current;
    if (!el.value.trim()) {
      setError(t('signin.empty'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // The token goes once to POST /ui/session and is wiped from the
      // field; from then on the HttpOnly cookie stands for it.
      const s = await signIn(el.value.trim());
      el.value = '';
      onSignedIn(s);
    } catch (err) {
      el.value = '';
      setError(err.status === 401 ? t('signin.wrong') : `${t('errors.other')}: ${err.message}`);
      setBusy(false);
      el.focus();
    }
  };
  return (
    <main id="main" class="signin">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title" noValidate>
        <div class="brand brand-large" aria-hidden="true">
          memberflow
        </div>
        <h1 id="signin-title">{t('signin.title')}</h1>
        <p class="muted">{t('signin.help')}</p>
        {expired && <p class="muted">{t('signin.expired')}</p>}
        <label for="signin-token">{t('signin.token')}</label>
        <input
          ref={input}
          id="signin-token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          data-testid="signin-token"
          aria-describedby={error ? 'signin-error' : undefined}
          aria-invalid={error ? 'true' : undefined}
        />
        {error && (
          <p id="signin-error" class="error-text" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" data-testid="signin-submit" disabled={busy}>
          {busy ? t('signin.signing_in') : t('signin.submit')}
        </button>
        <LanguageSwitch />
      </form>
    </main>
  );
}

function LanguageSwitch() {
  const [, rerender] = useState(0);
  const onChange = (e) => {
    setLanguage(e.currentTarget.value);
    rerender((n) => n + 1);
    window.dispatchEvent(new Event('languagechange-app'));
  };
  return (
    <div class="lang">
      <label for="lang-switch">{t('shell.language')}</label>
      <select id="lang-switch" data-testid="lang-switch" value={lang()} onChange={onChange}>
        {languages.map((l) => (
          <option key={l} value={l} lang={l}>
            {l === 'en' ? 'English' : '简体中文'}
          </option>
        ))}
      </select>
    </div>
  );
}

const navItems = [
  ['journeys', '#/journeys', 'nav.journeys', ['journeys', 'journey']],
  ['members', '#/members', 'nav.members', ['members']],
  ['program', '#/program', 'nav.program', ['program']],
  ['emails', '#/emails', 'nav.emails', ['emails']],
  ['analytics', '#/analytics', 'nav.analytics', ['analytics']],
];

function Shell({ sess, onSignOut }) {
  const route = useRoute();
  const mainRef = useRef(null);
  const first = useRef(true);
  // After a navigation, focus moves to the new screen's heading so
  // keyboard and screen-reader users start there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const h = mainRef.current && mainRef.current.querySelector('h1');
    if (h) {
      h.setAttribute('tabindex', '-1');
      h.focus();
    }
  }, [route.screen, route.name, route.id]);
  let screen;
  switch (route.screen) {
    case 'journey':
      screen = <Lazy key={'j:' + (route.name || '+new')} load={loadJourney} name="JourneyScreen" props={{ name: route.name, isNew: route.isNew }} />;
      break;
    case 'members':
      screen = <MemberScreen key={'m:' + route.id} id={route.id} />;
      break;
    case 'program':
      screen = <ProgramScreen />;
      break;
    case 'emails':
      screen = <EmailsScreen />;
      break;
    case 'analytics':
      screen = <Lazy key="analytics" load={loadAnalytics} name="AnalyticsScreen" props={{}} />;
      break;
    default:
      screen = <JourneysScreen />;
  }
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current.focus(); }}>
        {t('shell.skip')}
      </a>
      <header class="topbar">
        <a class="brand" href="#/journeys">
          memberflow <span class="brand-sub">{t('shell.console')}</span>
        </a>
        <nav aria-label={t('shell.nav')}>
          <ul>
            {navItems.map(([id, href, label, screens]) => (
              <li key={id}>
                <a href={href} data-testid={`nav-${id}`} aria-current={screens.includes(route.screen) ? 'page' : undefined}>
                  {t(label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-end">
          <LanguageSwitch />
          <span class="muted small" title={t('shell.token_hint')}>
            {t('shell.signed_in_as', { id: sess.token_id })}
          </span>
          <button type="button" data-testid="signout" onClick={onSignOut}>
            {t('shell.signout')}
          </button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {screen}
      </main>
    </>
  );
}

function App() {
  const [state, setState] = useState({ phase: 'checking', sess: null, expired: false, error: null });
  const [, setTick] = useState(0);
  useEffect(() => {
    const on = () => setTick((n) => n + 1);
    window.addEventListener('languagechange-app', on);
    return () => window.removeEventListener('languagechange-app', on);
  }, []);
  const check = useCallback(() => {
    session().then(
      (sess) => setState({ phase: sess ? 'in' : 'out', sess, expired: false, error: null }),
      (error) => setState({ phase: 'out', sess: null, expired: false, error }),
    );
  }, []);
  useEffect(() => {
    whenSignedOut(() => setState({ phase: 'out', sess: null, expired: true, error: null }));
    check();
  }, []);
  const out = async () => {
    try {
      await signOut();
    } catch {
      // the cookie is cleared server-side or already gone
    }
    setState({ phase: 'out', sess: null, expired: false, error: null });
  };
  if (state.phase === 'checking') {
    return (
      <main id="main">
        <Loading />
      </main>
    );
  }
  if (state.phase === 'out') {
    return (
      <>
        {state.error && <ErrorBanner error={state.error} />}
        <SignIn expired={state.expired} onSignedIn={(sess) => setState({ phase: 'in', sess, expired: false, error: null })} />
      </>
    );
  }
  return <Shell sess={state.sess} onSignOut={out} />;
}

render(<App />, document.getElementById('app'));
