package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/httpx"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// Audit actions of the members' rights.
const (
	AuditMemberErase  = "member.erase"
	AuditMemberExport = "member.export"
)

// MemberFiles erases what is kept about a member outside the store: the
// local stack's email outbox (internal/mail/outbox). In AWS there is
// none and Handler.Files is nil.
type MemberFiles interface {
	// EraseMember removes the member's files and returns how many.
	EraseMember(memberID string) (int, error)
}

// Erasure is DELETE /v1/members/{id}: what the erasure did. A repeat
// answers the same shape with nothing done.
type Erasure struct {
	store.Erased
	ErasedAt time.Time `json:"erased_at"`
	// Ended are the enrollments told to end (exited: erased).
	Ended []loyalty.Enrollment `json:"ended"`
	// Files are the outbox files removed (local stack only).
	Files int `json:"files"`
}

// deleteMember serves DELETE /v1/members/{id}: the member's right to be
// erased. In order: the profile is marked erased (store.Erasure.
// MarkErased), so from then on dispatch stores the member's events
// redacted and no journey enters them; then their open enrollments end
// through the journeys' exit path (running workflows are told, so
// nothing more is sent) — after the mark, so no trigger dispatched in
// between enters a journey nothing would end; then the store blanks
// their personal data and suppresses their address by its hash
// (store.Erasure says what stays and why); then the outbox files go.
// Every step finds nothing to do the second time, so a repeat (or a
// retry after a failure half-way) answers 200 again. The mark stays: the
// member's later events, and any still in the stream, leave no personal
// data behind and no journey enters them again, while their orders and
// refunds still move the ledger under the id.
func (h *Handler) deleteMember(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h.audited(w, r, AuditMemberErase, auditTargetMember(id), nil, func(w http.ResponseWriter) {
		ctx := r.Context()
		if _, err := h.Store.GetMember(ctx, id); err != nil {
			h.memberFail(w, r, id, err)
			return
		}
		if h.Journeys == nil {
			// Refused before anything is written: nothing here could end
			// the member's enrollments.
			if err := h.noOpenEnrollments(ctx, id); err != nil {
				if errors.Is(err, errNoJourneys) {
					httpx.WriteError(w, http.StatusServiceUnavailable, "member "+id+" has open enrollments and journeys are not configured in this deployment: nothing was erased")
					return
				}
				httpx.Fail(w, r, h.Log, err)
				return
			}
		}
		at := h.now().UTC()
		out := Erasure{ErasedAt: at, Ended: []loyalty.Enrollment{}}
		if err := h.Store.MarkErased(ctx, id, at); err != nil {
			h.memberFail(w, r, id, err)
			return
		}
		if h.Journeys != nil {
			ended, err := h.Journeys.EndMember(ctx, id, journeys.ExitErased)
			if err != nil {
				httpx.Fail(w, r, h.Log, err)
				return
			}
			out.Ended = append(out.Ended, ended...)
		}
		var err error
		if out.Erased, err = h.Store.EraseMember(ctx, id, at); err != nil {
			h.memberFail(w, r, id, err)
			return
		}
		if h.Files != nil {
			if out.Files, err = h.Files.EraseMember(id); err != nil {
				httpx.Fail(w, r, h.Log, fmt.Errorf("erase outbox files of %s: %w", id, err))
				return
			}
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

var errNoJourneys = errors.New("open enrollments and no journeys control")

// noOpenEnrollments refuses (errNoJourneys) a member with open
// enrollments, for a deployment without the journeys' Control to end
// them.
func (h *Handler) noOpenEnrollments(ctx context.Context, id string) error {
	enrs, err := h.Store.ListEnrollments(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range enrs {
		if !e.Status.Final() {
			return errNoJourneys
		}
	}
	return nil
}

// MemberExport is GET /v1/members/{id}/export: everything memberflow
// holds about the member, in one document.
type MemberExport struct {
	ExportedAt time.Time `json:"exported_at"`
	// Document is the profile, the standing in the programme as of now
	// and the enrollments (GET /v1/members/{id}).
	Document loyalty.MemberDocument `json:"document"`
	// Account is the ledger account as stored; nil when there is none.
	Account *loyalty.Account `json:"account"`
	// Ledger is every entry, newest first.
	Ledger []loyalty.Entry `json:"ledger"`
	// Journal is every cause committed to the ledger.
	Journal []loyalty.Recorded `json:"journal"`
	// Timeline is every decision about the member, newest first.
	Timeline    []store.TimelineEntry `json:"timeline"`
	Sends       []store.Send          `json:"sends"`
	SendEvents  []store.SendEvent     `json:"send_events"`
	Suppression *store.Suppression    `json:"suppression"`
	Contact     contact.State         `json:"contact"`
	// Events are the webhook events recorded about the member, as
	// received (redacted if the member was erased).
	Events []store.RecordedEvent `json:"events"`
}

const exportPage = 500

// getExport serves GET /v1/members/{id}/export, audited: a member's
// right to see what is held about them.
func (h *Handler) getExport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	h.audited(w, r, AuditMemberExport, auditTargetMember(id), nil, func(w http.ResponseWriter) {
		out, err := h.export(r.Context(), id)
		if err != nil {
			h.memberFail(w, r, id, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})
}

func (h *Handler) export(ctx context.Context, id string) (MemberExport, error) {
	now := h.now().UTC()
	out := MemberExport{ExportedAt: now}
	m, err := h.Store.GetMember(ctx, id)
	if err != nil {
		return out, err
	}
	if out.Document, err = h.Ledger.Document(ctx, id, now); err != nil {
		return out, err
	}
	out.Document.Member = m
	if out.Document.Enrollments == nil {
		out.Document.Enrollments = []loyalty.Enrollment{}
	}
	switch a, err := h.Store.GetAccount(ctx, id); {
	case err == nil:
		out.Account = &a
	case !errors.Is(err, store.ErrNotFound):
		return out, err
	}
	out.Ledger = []loyalty.Entry{}
	for before := int64(0); ; {
		page, err := h.Store.ListEntries(ctx, id, exportPage, before)
		if err != nil {
			return out, err
		}
		out.Ledger = append(out.Ledger, page...)
		if len(page) < exportPage || page[len(page)-1].Seq <= 1 {
			break
		}
		before = page[len(page)-1].Seq
	}
	if out.Journal, err = h.Store.Journal(ctx, id); err != nil {
		return out, err
	}
	out.Timeline = []store.TimelineEntry{}
	for before := ""; ; {
		page, next, err := h.Store.ListTimeline(ctx, id, exportPage, before)
		if err != nil {
			return out, err
		}
		out.Timeline = append(out.Timeline, page...)
		if next == "" {
			break
		}
		before = next
	}
	if out.Sends, err = h.Store.ListSends(ctx, id); err != nil {
		return out, err
	}
	if out.SendEvents, err = h.Store.ListSendEvents(ctx, id, time.Time{}); err != nil {
		return out, err
	}
	switch sup, err := h.Store.GetSuppression(ctx, id); {
	case err == nil:
		out.Suppression = &sup
	case !errors.Is(err, store.ErrNotFound):
		return out, err
	}
	if out.Contact, _, err = h.Store.GetContact(ctx, id); err != nil {
		return out, err
	}
	if out.Events, err = h.Store.MemberEvents(ctx, id); err != nil {
		return out, err
	}
	if out.Journal == nil {
		out.Journal = []loyalty.Recorded{}
	}
	if out.Sends == nil {
		out.Sends = []store.Send{}
	}
	if out.SendEvents == nil {
		out.SendEvents = []store.SendEvent{}
	}
	if out.Events == nil {
		out.Events = []store.RecordedEvent{}
	}
	return out, nil
}
