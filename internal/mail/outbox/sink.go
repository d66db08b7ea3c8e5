// Package outbox is a local stand-in for api.sendgrid.com. Its Sink accepts
// the same v3 mail/send requests the real sendgrid-go client makes, renders
// the dynamic template with the same Catalog, and writes the result to a
// directory instead of emailing anyone, so development and tests exercise the
// production send path end to end without credentials or network.
package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/memberflow/memberflow/internal/mail"
)

// SendPath is the only endpoint the Sink serves.
const SendPath = "/v3/mail/send"

// timeLayout is the file name prefix: fixed width, so that lexical order of
// file names is time order.
const timeLayout = "20060102T150405.000000000Z"

// maxBodyBytes matches SendGrid's 30 MB limit on a mail/send request.
const maxBodyBytes = 30 << 20

// maxMemberLen keeps file names well below the usual 255-byte limit.
const maxMemberLen = 64

// maxGroupsToDisplay is SendGrid's limit on asm.groups_to_display.
const maxGroupsToDisplay = 25

// Sink is an http.Handler that imitates SendGrid's POST /v3/mail/send for
// dynamic templates and writes each rendered message to Dir. The exported
// fields must be set before the first request and not changed afterwards.
// A Sink must not be copied after first use.
type Sink struct {
	// Dir receives the files; it is created when missing.
	Dir string
	// Catalog renders the templates.
	Catalog *mail.Catalog
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TemplateNames maps SendGrid template ids to Catalog names. An id that
	// is absent is looked up in the Catalog's template_ids (any
	// environment), and failing that used as the name itself.
	TemplateNames map[string]string
	// Logger receives one line per written message; nil disables logging.
	Logger *slog.Logger
	// OnAccept, when set, is told about the messages of every accepted
	// request, on its own goroutine once they are written: the local
	// stack posts SendGrid's "processed" event from it. Like SendGrid's
	// event webhook it can neither delay nor fail the send. Like
	// SendGrid's, the feedback outlives a crash of the sender: each
	// message is also recorded under Dir/.feedback/ before the request is
	// answered, until the callee calls Confirmed; Unconfirmed returns what
	// a process killed in between left there.
	OnAccept func([]Accepted)

	mu      sync.Mutex // serialises writes so file timestamps are unique
	last    time.Time  // timestamp of the newest message in Dir
	scanned bool       // whether last accounts for files written earlier
}

var _ http.Handler = (*Sink)(nil)

// Entry is one message written by a Sink.
type Entry struct {
	// HTMLPath is the rendered email, with the subject as its <title>.
	HTMLPath string
	// JSONPath is the request body exactly as the Sink received it.
	JSONPath string
	// MemberID is the sanitised custom_args.member_id ("unknown" if absent).
	MemberID string
	// Template is the Catalog template name.
	Template string
	// Time is when the Sink accepted the message, in UTC.
	Time time.Time
}

// Accepted is one message (personalization) the Sink accepted, with what
// SendGrid's event webhook reports about it.
type Accepted struct {
	// MessageID is the X-Message-Id the Sink answered with.
	MessageID string
	// Email is the first recipient's address.
	Email string
	// CustomArgs are the request's custom_args overlaid with the
	// personalization's, as SendGrid echoes them in every event.
	CustomArgs map[string]string
	Categories []string
	ASMGroupID int // 0 when absent
	Template   string
	// Time is when the Sink accepted the message, in UTC.
	Time time.Time
	// File is the message's file name in Dir without its extension
	// (unique: "<time>-<member>-<template>").
	File string
}

// FeedbackDir is where, under Dir, a Sink with OnAccept keeps the
// accepted messages whose feedback is not confirmed yet.
const FeedbackDir = ".feedback"

// apiError is one element of SendGrid's error response.
type apiError struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
}

// rendered is one personalization ready to be written.
type rendered struct {
	member   string
	template string
	group    int // asm.group_id, 0 when absent
	doc      string
	accepted Accepted
}

// ServeHTTP handles POST /v3/mail/send. It answers 202 with an X-Message-Id
// header once every personalization has been rendered and written, and a
// SendGrid-style error body otherwise; nothing is written when any
// personalization fails to render.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != SendPath {
		writeError(w, http.StatusNotFound, "", "not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok || strings.TrimSpace(token) == "" {
		writeError(w, http.StatusUnauthorized, "", "The provided authorization grant is invalid, expired, or revoked")
		return
	}
	if s.Dir == "" || s.Catalog == nil {
		writeError(w, http.StatusInternalServerError, "", "outbox is not configured: Dir and Catalog are required")
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
		writeError(w, http.StatusUnsupportedMediaType, "", "outbox does not support Content-Encoding "+enc)
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "", "request body is larger than 30 MB")
			return
		}
		writeError(w, http.StatusBadRequest, "", "cannot read request body")
		return
	}

	msgs, status, field, msg := s.render(body)
	if status != 0 {
		writeError(w, status, field, msg)
		return
	}

	id := newMessageID()
	entries, err := s.write(body, msgs, id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "outbox: "+err.Error())
		return
	}
	if s.Logger != nil {
		for _, e := range entries {
			// Only ids and paths: the recipient's address is never logged.
			s.Logger.Info("outbox: message written",
				"message_id", id, "member_id", e.MemberID, "template", e.Template, "asm_group", msgs[0].group, "file", e.HTMLPath)
		}
	}
	if s.OnAccept != nil {
		acc := make([]Accepted, len(msgs))
		for i, m := range msgs {
			acc[i] = m.accepted
		}
		go s.OnAccept(acc)
	}
	w.Header().Set("X-Message-Id", id)
	w.WriteHeader(http.StatusAccepted)
}

// render decodes and validates the request and renders every
// personalization. On failure it returns the HTTP status, the offending
// field (empty for none) and a message.
func (s *Sink) render(body []byte) (msgs []rendered, status int, field, msg string) {
	var req sgmail.SGMailV3
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, http.StatusBadRequest, "", "Bad Request: request body is not valid v3 mail/send JSON: " + err.Error()
	}
	if req.From == nil || strings.TrimSpace(req.From.Address) == "" {
		return nil, http.StatusBadRequest, "from.email", "The from object must be provided for every email send."
	}
	if req.TemplateID == "" {
		return nil, http.StatusBadRequest, "template_id", "The outbox only accepts dynamic template sends: template_id is required."
	}
	if len(req.Personalizations) == 0 {
		return nil, http.StatusBadRequest, "personalizations", "The personalizations field is required and must have at least 1 item."
	}
	// SendGrid's own rules for the unsubscribe group, so a malformed asm
	// fails locally as it would in production.
	group := 0
	if req.Asm != nil {
		if req.Asm.GroupID <= 0 {
			return nil, http.StatusBadRequest, "asm.group_id", "The asm group_id is required and must be a positive integer."
		}
		if len(req.Asm.GroupsToDisplay) > maxGroupsToDisplay {
			return nil, http.StatusBadRequest, "asm.groups_to_display", "The asm groups_to_display can contain at most 25 groups."
		}
		group = req.Asm.GroupID
	}

	name := s.templateName(req.TemplateID)
	for i, p := range req.Personalizations {
		if p == nil || len(p.To) == 0 {
			return nil, http.StatusBadRequest, fmt.Sprintf("personalizations.%d.to", i), "The to array is required for all personalization objects, and must have at least one email object with a valid email address."
		}
		out, err := s.Catalog.Render(name, p.DynamicTemplateData)
		if err != nil {
			field := fmt.Sprintf("personalizations.%d.dynamic_template_data", i)
			var te *mail.TemplateError
			if errors.As(err, &te) && te.IsUnknownTemplate() {
				field = "template_id"
			}
			return nil, http.StatusBadRequest, field, err.Error()
		}
		args := make(map[string]string, len(req.CustomArgs)+len(p.CustomArgs))
		maps.Copy(args, req.CustomArgs)
		maps.Copy(args, p.CustomArgs)
		email := ""
		if p.To[0] != nil {
			email = p.To[0].Address
		}
		msgs = append(msgs, rendered{
			member:   sanitise(p.CustomArgs[mail.CustomArgMemberID]),
			template: name,
			group:    group,
			// The same document `memberflow templates preview` prints.
			doc: out.Document(),
			accepted: Accepted{
				Email: email, CustomArgs: args, Categories: append([]string(nil), req.Categories...),
				ASMGroupID: group, Template: name,
			},
		})
	}
	return msgs, 0, "", ""
}

// templateName maps the request's template_id to a Catalog name.
func (s *Sink) templateName(id string) string {
	if n, ok := s.TemplateNames[id]; ok {
		return n
	}
	if n, ok := s.Catalog.NameForTemplateID(id); ok {
		return n
	}
	return id
}

// write stores the request body and each rendered document, and fills in
// each message's accepted record (id is the request's X-Message-Id). The
// .json is written before the .html so that anyone reacting to a new .html
// (List, a file watcher) always finds its .json already in place; with
// OnAccept, the feedback record is written before either, so a message on
// disk always has its feedback owed. On failure the files already written
// for this request are removed.
func (s *Sink) write(body []byte, msgs []rendered, id string) ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	feedback := filepath.Join(s.Dir, FeedbackDir)
	if s.OnAccept != nil {
		if err := os.MkdirAll(feedback, 0o700); err != nil {
			return nil, err
		}
	}
	var entries []Entry
	// record is a message's feedback record (none without OnAccept).
	record := func(base string) string { return filepath.Join(feedback, base+".json") }
	cleanup := func() {
		for _, e := range entries {
			_ = os.Remove(e.HTMLPath)
			_ = os.Remove(e.JSONPath)
			_ = os.Remove(record(strings.TrimSuffix(filepath.Base(e.JSONPath), ".json")))
		}
	}
	for i := range msgs {
		m := &msgs[i]
		t, base := s.nextName(m.member, m.template)
		m.accepted.MessageID, m.accepted.Time, m.accepted.File = id, t, base
		if s.OnAccept != nil {
			rec, err := json.Marshal(m.accepted)
			if err == nil {
				err = writeAtomic(record(base), rec)
			}
			if err != nil {
				cleanup()
				return nil, err
			}
		}
		e := Entry{
			HTMLPath: filepath.Join(s.Dir, base+".html"),
			JSONPath: filepath.Join(s.Dir, base+".json"),
			MemberID: m.member,
			Template: m.template,
			Time:     t,
		}
		if err := writeAtomic(e.JSONPath, body); err != nil {
			_ = os.Remove(record(base))
			cleanup()
			return nil, err
		}
		if err := writeAtomic(e.HTMLPath, []byte(m.doc)); err != nil {
			_ = os.Remove(e.JSONPath)
			_ = os.Remove(record(base))
			cleanup()
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// nextName picks a timestamp strictly after that of every message already in
// Dir, including those written by an earlier process, so that a frozen or
// coarse clock (tests, fast successive sends) never overwrites a message and
// file name order stays send order. s.mu must be held.
func (s *Sink) nextName(member, template string) (time.Time, string) {
	if !s.scanned {
		if entries, err := s.List(); err == nil && len(entries) > 0 {
			s.last = entries[len(entries)-1].Time
		}
		s.scanned = true
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC().Round(0)
	if !t.After(s.last) {
		t = s.last.Add(time.Nanosecond)
	}
	// The existence check only matters when another process writes to the
	// same Dir concurrently.
	for {
		base := t.Format(timeLayout) + "-" + member + "-" + template
		if _, err := os.Lstat(filepath.Join(s.Dir, base+".html")); errors.Is(err, fs.ErrNotExist) {
			s.last = t
			return t, base
		}
		t = t.Add(time.Nanosecond)
	}
}

// writeAtomic writes data to a temporary file in the same directory and
// renames it into place, so a watcher never observes a partial file. The
// temporary name starts with "." and ends in ".tmp" so List and globbing
// watchers ignore it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".outbox-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	// The files hold recipients' addresses and names: personal data, so
	// 0600 like the dead-letter file (CreateTemp's mode, made explicit).
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// List returns the messages in Dir, oldest first. A missing Dir is an empty
// outbox, not an error.
func (s *Sink) List() ([]Entry, error) {
	names, err := bases(s.Dir, ".html")
	if err != nil {
		return nil, err
	}
	var entries []Entry
	for _, base := range names {
		t, member, template, ok := parseBase(base)
		if !ok {
			continue
		}
		entries = append(entries, Entry{
			HTMLPath: filepath.Join(s.Dir, base+".html"),
			JSONPath: filepath.Join(s.Dir, base+".json"),
			MemberID: member,
			Template: template,
			Time:     t,
		})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.Before(entries[j].Time) })
	return entries, nil
}

// bases are the names, without ext, of the files in dir ending in ext,
// leaving out directories and dot files (temporaries). A missing dir has
// none.
func bases(dir, ext string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		if base, ok := strings.CutSuffix(de.Name(), ext); ok && !de.IsDir() && !strings.HasPrefix(base, ".") {
			out = append(out, base)
		}
	}
	return out, nil
}

// parseBase splits "<time>-<member>-<template>". The member may contain '-',
// but Catalog names cannot, so the last '-' separates the two.
func parseBase(base string) (t time.Time, member, template string, ok bool) {
	ts, rest, ok := strings.Cut(base, "-")
	if !ok {
		return time.Time{}, "", "", false
	}
	t, err := time.Parse(timeLayout, ts)
	if err != nil {
		return time.Time{}, "", "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 || i == len(rest)-1 {
		return time.Time{}, "", "", false
	}
	return t, rest[:i], rest[i+1:], true
}

// sanitise makes a member id safe as part of a file name: every character
// outside [A-Za-z0-9._-] becomes '_', and an empty id becomes "unknown".
func sanitise(id string) string {
	if id == "" {
		return "unknown"
	}
	b := []byte(id)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			b[i] = '_'
		}
	}
	if len(b) > maxMemberLen {
		b = b[:maxMemberLen]
	}
	return string(b)
}

// newMessageID returns a random id in the spirit of SendGrid's X-Message-Id.
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// writeError answers with SendGrid's error shape:
// {"errors":[{"message":"...","field":null}]}.
func writeError(w http.ResponseWriter, status int, field, msg string) {
	e := apiError{Message: msg}
	if field != "" {
		e.Field = &field
	}
	b, _ := json.Marshal(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{e}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// EraseMember removes the member's messages (both files of each) from
// Dir, for the member's erasure, and returns how many messages it
// removed; a member with none, or a missing Dir, is 0. Files are matched
// by the sanitised member id in their names, so two ids that sanitise
// alike both lose theirs: an erasure errs towards removing.
func (s *Sink) EraseMember(memberID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.List()
	if err != nil {
		return 0, err
	}
	want, n := sanitise(memberID), 0
	for _, e := range entries {
		if e.MemberID != want {
			continue
		}
		for _, p := range []string{e.HTMLPath, e.JSONPath} {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, err
			}
		}
		n++
	}
	// Feedback still owed for their messages names their address: it goes
	// too (the sends stay pending and are confirmed by no one, as for an
	// erased member's send whose feedback SendGrid drops).
	owed, err := bases(filepath.Join(s.Dir, FeedbackDir), ".json")
	if err != nil {
		return n, err
	}
	for _, base := range owed {
		if _, member, _, ok := parseBase(base); ok && member == want {
			if err := s.confirm(Accepted{File: base}); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// Unconfirmed returns the accepted messages whose feedback was never
// confirmed (a process that stopped between accepting a message and
// delivering its feedback), oldest first.
func (s *Sink) Unconfirmed() ([]Accepted, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unconfirmed()
}

// unconfirmed is Unconfirmed with s.mu held. A record whose message is
// not in Dir (a process killed after writing the record and before the
// message's .html, so the send was never answered) is removed: the
// sender retries that send, and confirming it would lose the email. A
// record that cannot be read (a host crash mid-write) is moved aside to
// <name>.bad and logged, so one bad file never stops a start.
func (s *Sink) unconfirmed() ([]Accepted, error) {
	dir := filepath.Join(s.Dir, FeedbackDir)
	names, err := bases(dir, ".json")
	if err != nil {
		return nil, err
	}
	var out []Accepted
	for _, base := range names {
		path := filepath.Join(dir, base+".json")
		if _, err := os.Lstat(filepath.Join(s.Dir, base+".html")); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		var a Accepted
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &a)
		}
		if err != nil {
			if s.Logger != nil {
				s.Logger.Warn("outbox: unreadable feedback record moved aside", "file", path+".bad", "err", err)
			}
			if err := os.Rename(path, path+".bad"); err != nil {
				return nil, err
			}
			continue
		}
		a.File = base
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// Confirmed forgets the feedback records of messages whose feedback was
// delivered. Records already gone are no error.
func (s *Sink) Confirmed(acc []Accepted) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range acc {
		if err := s.confirm(a); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sink) confirm(a Accepted) error {
	if a.File == "" || strings.ContainsAny(a.File, `/\`) {
		return fmt.Errorf("outbox feedback: %q names no message", a.File)
	}
	err := os.Remove(filepath.Join(s.Dir, FeedbackDir, a.File+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
