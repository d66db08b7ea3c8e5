package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberflow/memberflow/internal/journey"
	"github.com/memberflow/memberflow/internal/store"
)

// uniqueJourney returns a journey name no other subtest or run uses, in
// the language's spelling.
func uniqueJourney() string { return "j_" + strings.ToLower(rand.Text()[:16]) }

// definition is a journey with most of the language in it, so its round
// trip through the store shows the definition kept whole.
func definition(name string) journey.Definition {
	return journey.Definition{
		Name:        name,
		Description: "Offer SVIP to big spenders",
		Priority:    50,
		Trigger:     journey.Trigger{Event: "order.paid", When: "event.data.amount >= 500 && member.paid.status != 'active'"},
		Entry:       journey.Entry{Audience: "member.consent.email_marketing", Cooldown: journey.Duration(90 * journey.Day)},
		Goal:        &journey.Goal{Event: "subscription.converted", Within: journey.Duration(30 * journey.Day), Exit: true},
		Exit:        []journey.ExitRule{{Event: "member.unsubscribed"}},
		Steps: []journey.Step{
			{ID: "wait_trial", Wait: &journey.Wait{Event: journey.Events{"subscription.trial_started"}, Timeout: journey.Duration(2 * journey.Day),
				OnEvent: journey.End, OnTimeout: "check"}},
			{ID: "check", Branch: []journey.Case{{When: "member.tier in ['V3', 'V4']", Goto: "offer"}, {Goto: journey.End}}},
			{ID: "offer", Send: &journey.Send{Email: "svip_offer", Vars: map[string]string{"name": "member.name"}},
				Reward: &journey.Reward{Coupon: "FREE25"}, Expires: journey.Duration(3 * journey.Day)},
		},
	}
}

// version is what publishing definition(name) from source at looks like.
func version(name, source string, at time.Time) store.JourneyVersion {
	return store.JourneyVersion{Name: name, Definition: definition(name), Source: source, PublishedAt: at, PublishedBy: "tok_1a2b3c"}
}

func runJourneys(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("publish, read and list versions", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		v1 := version(name, "name: "+name+"\n# one\n", base)
		publish(t, s, v1, 0)
		v2 := version(name, "name: "+name+"\n# two\n", base.Add(time.Hour))
		v2.Definition.Priority = 70
		publish(t, s, v2, 1)

		v1.Version, v1.Definition.Version = 1, 1
		v2.Version, v2.Definition.Version = 2, 2
		checkVersion(t, getVersion(t, s, name, 1), v1)
		checkVersion(t, getVersion(t, s, name, 2), v2)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 2, Latest: 2, UpdatedAt: v2.PublishedAt})

		got, err := s.ListJourneyVersions(t.Context(), name)
		if err != nil {
			t.Fatalf("ListJourneyVersions: %v", err)
		}
		v1.Source, v2.Source = "", ""
		if len(got) != 2 {
			t.Fatalf("ListJourneyVersions = %d versions, want 2", len(got))
		}
		checkVersion(t, got[0], v2)
		checkVersion(t, got[1], v1)

		states, err := s.ListJourneys(t.Context())
		if err != nil {
			t.Fatalf("ListJourneys: %v", err)
		}
		found := 0
		for i, st := range states {
			if i > 0 && states[i-1].Name >= st.Name {
				t.Errorf("ListJourneys: %s after %s, want names in order", st.Name, states[i-1].Name)
			}
			if st.Name == name {
				found++
				checkEqual(t, "listed state", st, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 2, Latest: 2, UpdatedAt: v2.PublishedAt})
			}
		}
		if found != 1 {
			t.Errorf("ListJourneys lists %s %d times, want once", name, found)
		}
	})

	t.Run("publish conflict writes nothing", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		first := version(name, "first", base)
		publish(t, s, first, 0)
		first.Version, first.Definition.Version = 1, 1
		for _, expect := range []int{0, 2} {
			other := version(name, fmt.Sprintf("other %d", expect), base.Add(time.Hour))
			other.Definition.Priority = 99
			if err := s.PublishJourney(t.Context(), other, expect); !errors.Is(err, store.ErrConflict) {
				t.Errorf("PublishJourney(expect %d over latest 1) err = %v, want ErrConflict", expect, err)
			}
		}
		checkVersion(t, getVersion(t, s, name, 1), first) // versions are immutable
		checkVersionAbsent(t, s, name, 2)
		checkVersionAbsent(t, s, name, 3)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 1, Latest: 1, UpdatedAt: base})

		fresh := uniqueJourney()
		if err := s.PublishJourney(t.Context(), version(fresh, "x", base), 1); !errors.Is(err, store.ErrConflict) {
			t.Errorf("PublishJourney(new journey, expect 1) err = %v, want ErrConflict", err)
		}
		if _, err := s.GetJourney(t.Context(), fresh); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetJourney after a refused first publish: err = %v, want ErrNotFound", err)
		}
		checkVersionAbsent(t, s, fresh, 2)
	})

	t.Run("concurrent publishes of one version", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		publish(t, s, version(name, "v1", base), 0)
		won := raceWriters(t, func(i int) error {
			return s.PublishJourney(t.Context(), version(name, fmt.Sprintf("writer %d", i), base.Add(time.Hour)), 1)
		})
		if got := getJourney(t, s, name).Latest; got != 1+won {
			t.Errorf("latest = %d after %d winning publishes, want %d", got, won, 1+won)
		}
	})

	t.Run("publish makes a paused or archived journey live", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		publish(t, s, version(name, "v1", base), 0)
		for i, status := range []journey.Status{journey.StatusPaused, journey.StatusArchived} {
			setStatus(t, s, name, []journey.Status{journey.StatusLive}, status, base.Add(time.Minute))
			at := base.Add(time.Duration(i+1) * time.Hour)
			publish(t, s, version(name, fmt.Sprintf("v%d", i+2), at), i+1)
			checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: i + 2, Latest: i + 2, UpdatedAt: at})
		}
	})

	t.Run("drafts", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		ctx := t.Context()
		saveDraft(t, s, name, "draft one", base)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusDraft, Draft: "draft one", DraftSavedAt: base, UpdatedAt: base})
		at := base.Add(time.Minute)
		saveDraft(t, s, name, "draft two", at)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusDraft, Draft: "draft two", DraftSavedAt: at, UpdatedAt: at})

		// Publishing the draft clears it.
		at = base.Add(time.Hour)
		publish(t, s, version(name, "draft two", at), 0)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 1, Latest: 1, UpdatedAt: at})

		// A draft of a live journey leaves it live; publishing something
		// else leaves the draft.
		saved := base.Add(2 * time.Hour)
		saveDraft(t, s, name, "draft three", saved)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 1, Latest: 1, Draft: "draft three", DraftSavedAt: saved, UpdatedAt: saved})
		at = base.Add(3 * time.Hour)
		publish(t, s, version(name, "from a file", at), 1)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 2, Latest: 2, Draft: "draft three", DraftSavedAt: saved, UpdatedAt: at})

		at = base.Add(4 * time.Hour)
		saveDraft(t, s, name, "", at)
		checkJourney(t, s, store.JourneyState{Name: name, Status: journey.StatusLive, Live: 2, Latest: 2, UpdatedAt: at})

		if err := s.SaveJourneyDraft(ctx, uniqueJourney(), "", at); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SaveJourneyDraft(\"\") of an unknown journey: err = %v, want ErrNotFound", err)
		}
		if err := s.SaveJourneyDraft(ctx, "Bad-Name", "x", at); err == nil {
			t.Error("SaveJourneyDraft(Bad-Name) = nil, want an error")
		}
	})

	t.Run("status moves only from the statuses given", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		ctx := t.Context()
		if _, err := s.SetJourneyStatus(ctx, name, []journey.Status{journey.StatusLive}, journey.StatusPaused, base); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetJourneyStatus of an unknown journey: err = %v, want ErrNotFound", err)
		}
		publish(t, s, version(name, "v1", base), 0)
		live := store.JourneyState{Name: name, Status: journey.StatusLive, Live: 1, Latest: 1, UpdatedAt: base}

		got, err := s.SetJourneyStatus(ctx, name, []journey.Status{journey.StatusPaused}, journey.StatusLive, base.Add(time.Hour))
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("resume of a live journey: err = %v, want ErrConflict", err)
		}
		checkEqual(t, "state returned with the conflict", got, live)
		checkJourney(t, s, live)

		at := base.Add(2 * time.Hour)
		paused := live
		paused.Status, paused.UpdatedAt = journey.StatusPaused, at
		checkEqual(t, "paused", setStatus(t, s, name, []journey.Status{journey.StatusLive}, journey.StatusPaused, at), paused)
		checkJourney(t, s, paused)

		at = base.Add(3 * time.Hour)
		archived := live
		archived.Status, archived.UpdatedAt = journey.StatusArchived, at
		checkEqual(t, "archived", setStatus(t, s, name, []journey.Status{journey.StatusLive, journey.StatusPaused}, journey.StatusArchived, at), archived)

		for _, tc := range []struct {
			name string
			from []journey.Status
			to   journey.Status
		}{
			{"no from", nil, journey.StatusLive},
			{"unknown to", []journey.Status{journey.StatusArchived}, "stopped"},
			{"unknown from", []journey.Status{"stopped"}, journey.StatusLive},
		} {
			if _, err := s.SetJourneyStatus(ctx, name, tc.from, tc.to, at); err == nil || errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: SetJourneyStatus err = %v, want an argument error", tc.name, err)
			}
		}
		checkJourney(t, s, archived)
	})

	t.Run("publish rejects invalid versions", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		for _, tc := range []struct {
			name   string
			v      store.JourneyVersion
			expect int
		}{
			{"bad name", version("Bad-Name", "x", base), 0},
			{"negative latest", version(name, "x", base), -1},
			{"other version", func() store.JourneyVersion { v := version(name, "x", base); v.Version = 3; return v }(), 0},
			{"definition of another journey", func() store.JourneyVersion { v := version(name, "x", base); v.Definition.Name = "other"; return v }(), 0},
			{"no time", version(name, "x", time.Time{}), 0},
		} {
			if err := s.PublishJourney(t.Context(), tc.v, tc.expect); err == nil || errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: PublishJourney err = %v, want an argument error", tc.name, err)
			}
		}
		if _, err := s.GetJourney(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetJourney after rejected publishes: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("get unknown", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		if _, err := s.GetJourney(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetJourney: err = %v, want ErrNotFound", err)
		}
		checkVersionAbsent(t, s, name, 1)
		if vs, err := s.ListJourneyVersions(t.Context(), name); err != nil || len(vs) != 0 {
			t.Errorf("ListJourneyVersions = %v, %v; want none", vs, err)
		}
	})

	t.Run("counters count each key once", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		a, b := uniqueID("m"), uniqueID("m")
		count := func(member, key string, counts map[string]int64) {
			t.Helper()
			if err := s.CountJourney(t.Context(), name, member, key, counts); err != nil {
				t.Fatalf("CountJourney(%s, %s): %v", member, key, err)
			}
		}
		count(a, a+"#enrolled#1", map[string]int64{store.CountEnrolled: 1})
		count(a, a+"#enrolled#1", map[string]int64{store.CountEnrolled: 1}) // a repeat
		count(b, b+"#enrolled#1", map[string]int64{store.CountEnrolled: 1})
		count(a, a+"#edge#1", map[string]int64{store.CountEdge("welcome", "nudge"): 1})
		count(a, a+"#goal#1", map[string]int64{store.CountGoal: 1, store.CountExited("goal"): 1, store.CountEnded: 1})
		count(a, a+"#goal#1", map[string]int64{store.CountGoal: 1, store.CountExited("goal"): 1, store.CountEnded: 1})
		count(b, b+"#zero", map[string]int64{store.CountGoal: 0})

		got := journeyCounters(t, s, name)
		checkEqual(t, "counters", got, map[string]int64{
			"enrolled": 2, "edge:welcome>nudge": 1, "goal": 1, "exited:goal": 1, "ended": 1,
		})
		if active := store.JourneyActive(got); active != 1 {
			t.Errorf("active = %d, want 1", active)
		}

		// The step stats of the same journey stay apart.
		snd := journeySend(a, a+"#"+name+"#1#offer")
		snd.Journey = name
		if err := s.RecordConversion(t.Context(), a, "o1", sendEvent(snd, "sg1", store.EventClick, 0), base); err != nil {
			t.Fatalf("RecordConversion: %v", err)
		}
		checkStats(t, s, name, []store.StepStats{{Step: snd.Step, Counts: map[string]int64{store.StatsConversion: 1}}})
		checkEqual(t, "counters beside step stats", journeyCounters(t, s, name), got)
		checkEqual(t, "counters of an unknown journey", journeyCounters(t, s, uniqueJourney()), map[string]int64{})
	})

	t.Run("counters under concurrent repeats count once", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		id := uniqueID("m")
		// raceWriters does not fit: a repeat is not a lost race but
		// succeeds, counting nothing.
		checkNoErrors(t, "repeat", concurrently(8, func(int) error {
			return s.CountJourney(t.Context(), name, id, id+"#enrolled#1", map[string]int64{store.CountEnrolled: 1})
		}))
		checkNoErrors(t, "distinct", concurrently(8, func(i int) error {
			m := fmt.Sprintf("%s-%d", id, i)
			return s.CountJourney(t.Context(), name, m, m+"#ended#1", map[string]int64{store.CountEnded: 1})
		}))
		checkEqual(t, "counters", journeyCounters(t, s, name), map[string]int64{"enrolled": 1, "ended": 8})
	})

	t.Run("counters reject invalid arguments", func(t *testing.T) {
		s, name := newStore(t), uniqueJourney()
		id := uniqueID("m")
		for _, tc := range []struct {
			name, journey, member, key string
			counts                     map[string]int64
		}{
			{"bad journey", "Bad", id, "k", map[string]int64{"goal": 1}},
			{"no member", name, "", "k", map[string]int64{"goal": 1}},
			{"no key", name, id, "", map[string]int64{"goal": 1}},
			{"nothing", name, id, "k", nil},
			{"counter PK", name, id, "k", map[string]int64{"PK": 1}},
			{"counter entity", name, id, "k", map[string]int64{"entity": 1}},
			{"brackets", name, id, "k", map[string]int64{"edge:a[0]": 1}},
		} {
			if err := s.CountJourney(t.Context(), tc.journey, tc.member, tc.key, tc.counts); err == nil {
				t.Errorf("%s: CountJourney = nil, want an error", tc.name)
			}
		}
		checkEqual(t, "counters", journeyCounters(t, s, name), map[string]int64{})
		// The rejected calls marked nothing: the key still counts.
		if err := s.CountJourney(t.Context(), name, id, "k", map[string]int64{"goal": 1}); err != nil {
			t.Fatalf("CountJourney: %v", err)
		}
		checkEqual(t, "counters", journeyCounters(t, s, name), map[string]int64{"goal": 1})
	})
}

func publish(t *testing.T, s store.Store, v store.JourneyVersion, expectLatest int) {
	t.Helper()
	if err := s.PublishJourney(t.Context(), v, expectLatest); err != nil {
		t.Fatalf("PublishJourney(%s, expect %d): %v", v.Name, expectLatest, err)
	}
}

func getVersion(t *testing.T, s store.Store, name string, n int) store.JourneyVersion {
	t.Helper()
	v, err := s.GetJourneyVersion(t.Context(), name, n)
	if err != nil {
		t.Fatalf("GetJourneyVersion(%s, %d): %v", name, n, err)
	}
	return v
}

func checkVersionAbsent(t *testing.T, s store.Store, name string, n int) {
	t.Helper()
	if v, err := s.GetJourneyVersion(t.Context(), name, n); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJourneyVersion(%s, %d) = %+v, %v; want ErrNotFound", name, n, v, err)
	}
}

// checkVersion compares versions, their definitions by canonical JSON
// (what the language says makes two definitions the same) and number.
func checkVersion(t *testing.T, got, want store.JourneyVersion) {
	t.Helper()
	if g, w := got.Definition.Canonical(), want.Definition.Canonical(); string(g) != string(w) {
		t.Errorf("version %d definition = %s, want %s", want.Version, g, w)
	}
	if got.Definition.Version != want.Definition.Version {
		t.Errorf("version %d definition version = %d, want %d", want.Version, got.Definition.Version, want.Definition.Version)
	}
	// The rest field by field: checkEqual cannot read into the
	// definition's decimals.
	type rest struct {
		Name, Source, PublishedBy string
		Version                   int
		PublishedAt               time.Time
	}
	checkEqual(t, fmt.Sprintf("version %d", want.Version),
		rest{got.Name, got.Source, got.PublishedBy, got.Version, got.PublishedAt},
		rest{want.Name, want.Source, want.PublishedBy, want.Version, want.PublishedAt})
}

func getJourney(t *testing.T, s store.Store, name string) store.JourneyState {
	t.Helper()
	st, err := s.GetJourney(t.Context(), name)
	if err != nil {
		t.Fatalf("GetJourney(%s): %v", name, err)
	}
	return st
}

func checkJourney(t *testing.T, s store.Store, want store.JourneyState) {
	t.Helper()
	checkEqual(t, "journey "+want.Name, getJourney(t, s, want.Name), want)
}

func saveDraft(t *testing.T, s store.Store, name, source string, at time.Time) {
	t.Helper()
	if err := s.SaveJourneyDraft(t.Context(), name, source, at); err != nil {
		t.Fatalf("SaveJourneyDraft(%s, %q): %v", name, source, err)
	}
}

func setStatus(t *testing.T, s store.Store, name string, from []journey.Status, to journey.Status, at time.Time) store.JourneyState {
	t.Helper()
	st, err := s.SetJourneyStatus(t.Context(), name, from, to, at)
	if err != nil {
		t.Fatalf("SetJourneyStatus(%s, %v → %s): %v", name, from, to, err)
	}
	return st
}

func journeyCounters(t *testing.T, s store.Store, name string) map[string]int64 {
	t.Helper()
	got, err := s.JourneyCounters(t.Context(), name)
	if err != nil {
		t.Fatalf("JourneyCounters(%s): %v", name, err)
	}
	return got
}
