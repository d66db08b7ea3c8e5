package journeys_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/journeys"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/store/memstore"
	"github.com/memberflow/memberflow/templates"
)

func newService(t *testing.T) (*journeys.Service, *memstore.Store) {
	t.Helper()
	p, err := loyalty.LoadProgram(templates.Program)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	svc, _, err := journeys.New(st, p, cat)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st
}

// Every shipped journey and every example validates against the real
// programme, email catalog and CEL environment.
func TestShippedJourneysAndExamplesValidate(t *testing.T) {
	svc, _ := newService(t)
	n := 0
	err := fs.WalkDir(templates.Journeys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		n++
		src, err := fs.ReadFile(templates.Journeys, p)
		if err != nil {
			return err
		}
		if _, err := svc.Validate(src); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("%d journey files, want the five lifecycles and three examples", n)
	}
}

func TestPublishFilesOnlyWhenChanged(t *testing.T) {
	svc, st := newService(t)
	ctx := context.Background()
	first, err := svc.PublishFiles(ctx, templates.Journeys, journeys.ShippedDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 5 {
		t.Fatalf("published %d, want the five lifecycles (examples are not published)", len(first))
	}
	for _, p := range first {
		if p.Version != 1 || p.Unchanged {
			t.Errorf("first publish: %+v", p)
		}
	}
	again, err := svc.PublishFiles(ctx, templates.Journeys, journeys.ShippedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if !p.Unchanged || p.Version != 1 {
			t.Errorf("second start-up republished %+v", p)
		}
	}
	// A changed file becomes version 2; the live set follows.
	src, _ := fs.ReadFile(templates.Journeys, "journeys/activation.yaml")
	changed := fstest.MapFS{"activation.yaml": {Data: []byte(strings.Replace(string(src), "priority: 20", "priority: 25", 1))}}
	out, err := svc.PublishFiles(ctx, changed, ".")
	if err != nil || len(out) != 1 || out[0].Version != 2 || out[0].Unchanged {
		t.Fatalf("changed file: %+v, %v", out, err)
	}
	svc.TTL = time.Nanosecond
	live, err := svc.LiveSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range live {
		if l.Definition.Name == "activation" && (l.Definition.Version != 2 || l.Definition.Priority != 25) {
			t.Errorf("live activation = v%d priority %d", l.Definition.Version, l.Definition.Priority)
		}
	}
	if v, err := st.GetJourneyVersion(ctx, "activation", 1); err != nil || v.Definition.Priority != 20 {
		t.Errorf("version 1 = %+v, %v; versions are immutable", v.Definition, err)
	}
}

// One bad file stops start-up with its problems, and nothing is
// published; a file must be named like its journey.
func TestPublishFilesAllOrNothing(t *testing.T) {
	svc, st := newService(t)
	ctx := context.Background()
	good, _ := fs.ReadFile(templates.Journeys, "journeys/activation.yaml")
	for name, files := range map[string]fstest.MapFS{
		"invalid":  {"activation.yaml": {Data: good}, "broken.yaml": {Data: []byte("name: broken\ntrigger: {event: order.paid}\nsteps:\n  - id: a\n    send: {email: nope}\n")}},
		"misnamed": {"welcome.yaml": {Data: good}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := svc.PublishFiles(ctx, files, ".")
			if err == nil {
				t.Fatal("published")
			}
			if states, _ := st.ListJourneys(ctx); len(states) != 0 {
				t.Errorf("journeys stored: %+v", states)
			}
		})
	}
	_, err := svc.PublishFiles(ctx, fstest.MapFS{"broken.yaml": {Data: []byte("name: broken\n")}}, ".")
	var verr *journey.ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), "broken.yaml") {
		t.Errorf("error = %v, want a validation error naming the file", err)
	}
}

// Listened keeps the event types of older versions: enrollments pinned to
// them still listen.
func TestListenedCoversOlderVersions(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	v1 := "name: loyal\ntrigger: {event: member.registered}\nexit:\n  - event: review.posted\nsteps:\n  - id: hello\n    send: {email: activation_nudge}\n"
	v2 := "name: loyal\ntrigger: {event: member.registered}\nsteps:\n  - id: hello\n    send: {email: activation_nudge}\n"
	for _, src := range []string{v1, v2} {
		if _, err := svc.Publish(ctx, []byte(src), "test"); err != nil {
			t.Fatal(err)
		}
	}
	listened, err := svc.Listened(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !listened["review.posted"] {
		t.Errorf("listened = %v, want review.posted of version 1", listened)
	}
	if _, err := svc.Status(ctx, "loyal", []journey.Status{journey.StatusLive}, journey.StatusArchived); err != nil {
		t.Fatal(err)
	}
	if listened, _ = svc.Listened(ctx); listened["review.posted"] {
		t.Errorf("an archived journey's events are still listened for: %v", listened)
	}
}

// TestSegmentChangedIsTyped: a journey on member.segment_changed reads
// event.data.from and .to as strings and the member's scores; a misspelt
// field or a comparison of the segment with a number fails at publish.
func TestSegmentChangedIsTyped(t *testing.T) {
	svc, _ := newService(t)
	src := func(when string) []byte {
		return []byte("name: rescue\ntrigger: {event: member.segment_changed, when: \"" + when + "\"}\nsteps:\n  - id: done\n    end: {}\n")
	}
	for _, ok := range []string{
		"event.data.to == 'at_risk' && event.data.from != ''",
		"member.rfm.segment == 'at_risk' && member.p_alive < 0.3 && member.clv_12m >= 100 && member.expected_orders_90d < 1.0",
	} {
		if _, err := svc.Validate(src(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for when, want := range map[string]string{
		"event.data.too == 'at_risk'": "too",
		"event.data.to == 3":          "no matching overload",
		"member.rfm.segmnt == 'x'":    "segmnt",
	} {
		_, err := svc.Validate(src(when))
		if err == nil || !strings.Contains(err.Error(), "trigger.when") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want trigger.when and %q", when, err, want)
		}
	}
}
