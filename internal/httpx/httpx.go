// Package httpx holds the small HTTP conventions every memberflow endpoint
// shares: JSON bodies, one error shape, and the one table that maps
// application error codes to HTTP statuses.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// ErrorBody is the JSON every error response carries.
type ErrorBody struct {
	Error    string `json:"error"`
	Problems any    `json:"problems,omitempty"`
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes a plain error message with status.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}

// statusOf is the one mapping from application error codes to HTTP.
var statusOf = map[loyalty.Code]int{
	loyalty.EInvalid:  http.StatusBadRequest,
	loyalty.ENotFound: http.StatusNotFound,
	loyalty.EConflict: http.StatusConflict,
	loyalty.EInternal: http.StatusInternalServerError,
}

// Code classifies err, treating the store's sentinel errors as their codes.
func Code(err error) loyalty.Code {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return loyalty.ENotFound
	case errors.Is(err, store.ErrConflict):
		return loyalty.EConflict
	}
	return loyalty.ErrorCode(err)
}

// Fail answers err: coded errors show their message; internal errors are
// logged and the caller sees a plain sentence.
func Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := Code(err)
	status := statusOf[code]
	if code == loyalty.EInternal {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		WriteError(w, status, "internal error; the request was logged")
		return
	}
	var le *loyalty.Error
	if errors.As(err, &le) {
		WriteError(w, status, le.Message)
		return
	}
	WriteError(w, status, http.StatusText(status))
}

// Recover turns a panic in h into a logged 500, so one bad request can never
// take the process (or a warm Lambda) down with it.
func Recover(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				log.ErrorContext(r.Context(), "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				WriteError(w, http.StatusInternalServerError, "internal error; the request was logged")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// ReadPost is how a webhook endpoint starts: anything but POST is answered
// 405, and a POST's body is read up to limit bytes (413 beyond, 400 when it
// cannot be read). ok is false when ReadPost has answered the request.
func ReadPost(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		WriteError(w, http.StatusMethodNotAllowed, "use POST")
		return nil, false
	}
	return ReadBody(w, r, limit)
}

// ReadBody reads a request's body up to limit bytes (413 beyond, 400 when
// it cannot be read), for a route whose method the mux has checked. ok is
// false when ReadBody has answered the request.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			size := fmt.Sprintf("%d bytes", limit)
			if limit%(1<<20) == 0 {
				size = fmt.Sprintf("%d MiB", limit>>20)
			}
			WriteError(w, http.StatusRequestEntityTooLarge, "body: must be at most "+size)
			return nil, false
		}
		WriteError(w, http.StatusBadRequest, "body: could not be read")
		return nil, false
	}
	return body, true
}
