package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/api"
	"github.com/memberflow/memberflow/internal/store"
)

func TestTimeline(t *testing.T) {
	a := newJourneyAPI(t)
	ctx := context.Background()
	at := func(h int) time.Time { return journeyStart.Add(time.Duration(h) * time.Hour) }
	if err := a.st.AppendTimeline(ctx,
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Kind: "enrolled", Values: map[string]any{"member.consent.email_marketing": true}, At: at(0), Key: "m-1#paced#7#entry"},
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Step: "hello", Kind: "deferred", Reason: "quiet_hours", At: at(1), Until: at(10), Key: "m-1#paced#7#hello#2026"},
		store.TimelineEntry{MemberID: "m-1", Journey: "paced", Version: 1, Enrollment: 7, Step: "hello", Kind: "sent", At: at(10), Key: "m-1#paced#7#hello#2026"},
	); err != nil {
		t.Fatal(err)
	}

	all := decodeBody[api.TimelinePage](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/timeline", ""))
	if all.MemberID != "m-1" || len(all.Entries) != 3 || all.Next != "" {
		t.Fatalf("timeline = %+v", all)
	}
	// Newest first, every field there.
	if e := all.Entries[0]; e.Kind != "sent" || e.Step != "hello" || e.Journey != "paced" || e.Version != 1 || e.Enrollment != 7 || !e.At.Equal(at(10)) || e.Values == nil {
		t.Errorf("newest = %+v", e)
	}
	if e := all.Entries[1]; e.Kind != "deferred" || e.Reason != "quiet_hours" || !e.Until.Equal(at(10)) {
		t.Errorf("deferral = %+v", e)
	}
	if e := all.Entries[2]; e.Kind != "enrolled" || e.Values["member.consent.email_marketing"] != true {
		t.Errorf("oldest = %+v", e)
	}

	first := decodeBody[api.TimelinePage](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/timeline?limit=2", ""))
	if len(first.Entries) != 2 || first.Entries[0].Kind != "sent" || first.Next == "" {
		t.Fatalf("first page = %+v", first)
	}
	rest := decodeBody[api.TimelinePage](t, a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-1/timeline?limit=2&before="+url.QueryEscape(first.Next), ""))
	if len(rest.Entries) != 1 || rest.Entries[0].Kind != "enrolled" || rest.Next != "" {
		t.Errorf("second page = %+v", rest)
	}

	// A member nothing was decided about has an empty timeline.
	if b := a.must(t, http.StatusOK, http.MethodGet, "/v1/members/m-2/timeline", ""); !strings.Contains(string(b), `"entries": []`) {
		t.Errorf("empty timeline = %s", b)
	}
	for _, tc := range []struct{ name, query, want string }{
		{"limit zero", "limit=0", "limit: must be a whole number from 1 to 500"},
		{"limit too big", "limit=501", "limit: must be a whole number from 1 to 500"},
		{"limit not a number", "limit=ten", "limit: must be a whole number from 1 to 500"},
		{"before not a cursor", "before=%21%21", "before: must be the next of a previous page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, a, http.MethodGet, "/v1/members/m-1/timeline?"+tc.query, "", http.StatusBadRequest, tc.want)
		})
	}
	wantError(t, a, http.MethodGet, "/v1/members/m-404/timeline", "", http.StatusNotFound, "member m-404 not found")
}
