package mail

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrTemplate is matched by errors.Is for every error caused by an unknown
// template or by data that does not satisfy a template. Such errors are
// permanent: retrying with the same input cannot succeed.
var ErrTemplate = errors.New("mail: bad template or template data")

// ErrInvalidMessage is matched by errors.Is when Send rejects a Message before
// contacting the provider (for example an empty recipient). Such errors are
// permanent.
var ErrInvalidMessage = errors.New("mail: invalid message")

// errUnknownTemplate is the cause recorded in a TemplateError when the
// catalog has no template of the requested name.
var errUnknownTemplate = errors.New("unknown template")

// TemplateError reports why a template could not be rendered. It matches
// ErrTemplate with errors.Is, so callers only need the concrete type when they
// want the list of missing variables.
type TemplateError struct {
	// Template is the logical template name that was requested.
	Template string
	// Missing lists, in the template's declared order, every required
	// variable that was absent or empty in the data.
	Missing []string
	// Err is the underlying cause when Missing is empty (unknown template,
	// Handlebars evaluation error).
	Err error
}

// Error formats the error as "template <name>: ...".
func (e *TemplateError) Error() string {
	if len(e.Missing) > 0 {
		return fmt.Sprintf("template %s: missing variables: %s", e.Template, strings.Join(e.Missing, ", "))
	}
	return fmt.Sprintf("template %s: %v", e.Template, e.Err)
}

// Unwrap returns the underlying cause, if any.
func (e *TemplateError) Unwrap() error { return e.Err }

// Is makes every TemplateError match ErrTemplate.
func (e *TemplateError) Is(target error) bool { return target == ErrTemplate }

// IsUnknownTemplate reports whether the error is about a template name the
// catalog does not have, as opposed to bad data for an existing template.
func (e *TemplateError) IsUnknownTemplate() bool { return errors.Is(e.Err, errUnknownTemplate) }

// ProviderError is a non-2xx answer from the SendGrid API (or from the local
// outbox that imitates it).
type ProviderError struct {
	// StatusCode is the HTTP status SendGrid answered with.
	StatusCode int
	// Message is SendGrid's errors[].message values joined with "; ", or the
	// raw body (or status text) when the body carries no such messages.
	Message string
	// RetryAfter is how long SendGrid asked us to wait before retrying; zero
	// when it did not say.
	RetryAfter time.Duration
}

// Error formats the status, the provider's message and any retry hint.
func (e *ProviderError) Error() string {
	s := fmt.Sprintf("sendgrid: HTTP %d: %s", e.StatusCode, e.Message)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Retryable reports whether sending the same request again may succeed: rate
// limiting (429) and server errors (5xx) are transient, every other status
// means the request itself is wrong.
func (e *ProviderError) Retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// IsPermanent reports whether err means the message can never be sent as
// given, so a caller such as a Temporal activity should fail without retrying.
// Transport errors, context errors and retryable provider errors are not
// permanent.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrTemplate) || errors.Is(err, ErrInvalidMessage) {
		return true
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return !pe.Retryable()
	}
	return false
}
