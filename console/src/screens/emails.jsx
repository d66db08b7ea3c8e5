// Emails: every template, and a preview rendered by the api exactly as a
// send would render it, for a sample member or a chosen one. The HTML is
// shown in a fully sandboxed iframe (srcdoc, sandbox=""): no script, no
// same-origin access.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { t } from '../i18n.js';
import { ErrorBanner, KeyValues, Loading, useTitle } from '../ui.jsx';

export function EmailsScreen() {
  useTitle(t('emails.title'));
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [chosen, setChosen] = useState('');
  useEffect(() => {
    api.get('/v1/templates').then((d) => {
      const l = Array.isArray(d) ? d : d.templates || [];
      setList(l);
      if (l.length) setChosen(l[0].name);
    }, setError);
  }, []);
  return (
    <section aria-labelledby="emails-h">
      <div class="screen-head">
        <h1 id="emails-h">{t('emails.title')}</h1>
      </div>
      <ErrorBanner error={error} />
      {!list && !error && <Loading />}
      {list && (
        <div class="emails">
          <nav aria-label={t('emails.list')} class="card email-list">
            <h2 id="emails-list-h">{t('emails.list')}</h2>
            <ul data-testid="emails-list" aria-labelledby="emails-list-h">
              {list.map((e) => (
                <li key={e.name}>
                  <button
                    type="button"
                    class={`email-item${chosen === e.name ? ' selected' : ''}`}
                    data-testid={`email-${e.name}`}
                    aria-pressed={chosen === e.name ? 'true' : 'false'}
                    onClick={() => setChosen(e.name)}
                  >
                    <span class="email-name">{e.name}</span>
                    <span class="muted small">{e.subject}</span>
                    {e.group && <span class="tag">{e.group}</span>}
                  </button>
                </li>
              ))}
            </ul>
            {list.length === 0 && <p class="muted">{t('emails.none')}</p>}
          </nav>
          {chosen && <Preview key={chosen} template={list.find((e) => e.name === chosen)} />}
        </div>
      )}
    </section>
  );
}

function Preview({ template }) {
  const input = useRef(null);
  const [out, setOut] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [forMember, setForMember] = useState('');
  const render = (memberId) => {
    setBusy(true);
    setError(null);
    const body = memberId ? { member_id: memberId } : {};
    api
      .post(`/v1/templates/${enc(template.name)}/preview`, { json: body })
      .then(
        (d) => {
          setOut(d);
          setForMember(memberId);
        },
        setError,
      )
      .finally(() => setBusy(false));
  };
  useEffect(() => render(''), []);
  const submit = (e) => {
    e.preventDefault();
    render(input.current.value.trim());
  };
  return (
    <section class="card email-preview-card" aria-labelledby="preview-h">
      <h2 id="preview-h">{t('emails.preview_of', { name: template.name })}</h2>
      <form class="search" onSubmit={submit}>
        <label for="email-preview-member">{t('emails.member')}</label>
        <input id="email-preview-member" ref={input} type="search" data-testid="email-preview-member" placeholder={t('emails.member_placeholder')} autocomplete="off" />
        <button type="submit" class="primary" data-testid="email-preview-submit" disabled={busy}>
          {t('emails.render')}
        </button>
      </form>
      {template.required && template.required.length > 0 && (
        <p class="muted small">{t('emails.required', { vars: template.required.join(', ') })}</p>
      )}
      <ErrorBanner error={error} />
      {busy && !out && <Loading />}
      {out && (
        <>
          <KeyValues
            items={[
              [t('emails.for'), forMember || t('emails.sample')],
              [t('emails.subject'), out.subject],
              [t('emails.preheader'), out.preheader],
            ]}
          />
          <iframe
            class="preview-frame"
            title={t('emails.frame_title', { name: template.name })}
            data-testid="email-preview"
            sandbox=""
            srcdoc={out.html}
          />
          <details>
            <summary>{t('emails.text_version')}</summary>
            <pre class="text-version">{out.text}</pre>
          </details>
        </>
      )}
    </section>
  );
}
