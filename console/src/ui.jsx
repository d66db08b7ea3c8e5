// Pieces every screen uses: the error banner, the confirmation dialog,
// loading states and small tables.
import { useEffect, useRef } from 'preact/hooks';
import { t } from './i18n.js';

/** errorMessage is the translated prefix (by status) and the api's own message. */
export function errorMessage(err) {
  if (!err) return '';
  const status = err.status ?? -1;
  let prefix = 'errors.other';
  if (status === 0) prefix = 'errors.network';
  else if (status === 400 || status === 413) prefix = 'errors.bad_request';
  else if (status === 401) prefix = 'errors.unauthorized';
  else if (status === 403) prefix = 'errors.forbidden';
  else if (status === 404) prefix = 'errors.not_found';
  else if (status === 409) prefix = 'errors.conflict';
  else if (status === 422) prefix = 'errors.invalid';
  else if (status === 503) prefix = 'errors.unavailable';
  else if (status >= 500) prefix = 'errors.server';
  return `${t(prefix)}: ${err.message}`;
}

export function ErrorBanner({ error, onDismiss }) {
  if (!error) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid="error-banner">
      <span>{errorMessage(error)}</span>
      {onDismiss && (
        <button type="button" class="link" onClick={onDismiss}>
          {t('common.dismiss')}
        </button>
      )}
    </div>
  );
}

export function Notice({ children }) {
  if (!children) return null;
  return (
    <div class="banner banner-ok" role="status">
      {children}
    </div>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status" aria-live="polite">
      {t('common.loading')}
    </p>
  );
}

/**
 * ConfirmDialog is a modal <dialog>: focus goes to Cancel when it opens
 * (the safe choice), Escape cancels, and focus returns to whatever opened
 * it when it closes.
 */
export function ConfirmDialog({ open, title, body, okLabel, danger, onOk, onCancel, busy }) {
  const ref = useRef(null);
  const opener = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
      const cancel = d.querySelector('[data-testid="confirm-cancel"]');
      if (cancel) cancel.focus();
    } else if (!open && d.open) {
      d.close();
      if (opener.current && opener.current.isConnected) opener.current.focus();
      opener.current = null;
    }
  }, [open]);
  return (
    <dialog
      ref={ref}
      data-testid="confirm-dialog"
      aria-labelledby="confirm-title"
      aria-describedby="confirm-body"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <h2 id="confirm-title">{title}</h2>
      <div id="confirm-body">{body}</div>
      <div class="dialog-actions">
        <button type="button" data-testid="confirm-cancel" onClick={onCancel} disabled={busy}>
          {t('common.cancel')}
        </button>
        <button type="button" data-testid="confirm-ok" class={danger ? 'danger' : 'primary'} onClick={onOk} disabled={busy}>
          {okLabel}
        </button>
      </div>
    </dialog>
  );
}

/** KeyValues is a description list of [label, value] pairs. */
export function KeyValues({ items, testid }) {
  return (
    <dl class="kv" data-testid={testid}>
      {items
        .filter(Boolean)
        .map(([k, v]) => [
          <dt key={`${k}-t`}>{k}</dt>,
          <dd key={`${k}-d`}>{v === undefined || v === null || v === '' ? '—' : v}</dd>,
        ])}
    </dl>
  );
}

/** useTitle sets the document title for a screen. */
export function useTitle(title) {
  useEffect(() => {
    document.title = `${title} · memberflow`;
  }, [title]);
}
