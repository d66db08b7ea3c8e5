package loyalty_test

import (
	"testing"
	"time"

	"github.com/memberflow/memberflow/events"
	"github.com/memberflow/memberflow/internal/loyalty"
)

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func env(typ events.Type, at time.Time) events.Envelope {
	return events.Envelope{ID: "e", Type: typ, MemberID: "m-1", OccurredAt: at}
}

func registered(consent bool) *events.MemberRegisteredData {
	return &events.MemberRegisteredData{
		Email: "a@example.com", Name: "A", Birthday: &events.Date{Year: 1990, Month: time.June, Day: 15},
		Timezone: "Asia/Shanghai", Locale: "zh-CN", Consent: events.Consent{EmailMarketing: consent},
	}
}

func TestProject(t *testing.T) {
	base, _ := loyalty.Project(loyalty.Member{}, env(events.MemberRegistered, t0), registered(true))
	erased := base.WithoutPersonalData()
	erased.ErasedAt = t0.Add(30 * time.Minute)
	for _, tc := range []struct {
		name        string
		start       loyalty.Member
		typ         events.Type
		at          time.Time
		data        any
		wantChanged bool
		check       func(t *testing.T, m loyalty.Member)
	}{
		{"registration fills the profile", loyalty.Member{}, events.MemberRegistered, t0, registered(true), true, func(t *testing.T, m loyalty.Member) {
			if m.ID != "m-1" || m.Email != "a@example.com" || m.Birthday != "1990-06-15" || !m.Consent.EmailMarketing || !m.RegisteredAt.Equal(t0) || !m.UpdatedAt.Equal(t0) {
				t.Errorf("member = %+v", m)
			}
		}},
		{"profile update changes only given fields", base, events.MemberProfileUpdated, t0.Add(time.Hour), &events.MemberProfileUpdatedData{Name: ptr("B")}, true, func(t *testing.T, m loyalty.Member) {
			if m.Name != "B" || m.Email != "a@example.com" || !m.Consent.EmailMarketing {
				t.Errorf("member = %+v", m)
			}
		}},
		{"unsubscribe turns consent off", base, events.MemberUnsubscribed, t0.Add(time.Hour), &events.MemberUnsubscribedData{}, true, func(t *testing.T, m loyalty.Member) {
			if m.Consent.EmailMarketing || !m.Consent.UpdatedAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("consent = %+v", m.Consent)
			}
		}},
		{"an older consent statement does not override a newer one", loyalty.Member{ID: "m-1", Consent: loyalty.Consent{EmailMarketing: false, UpdatedAt: t0}}, events.MemberProfileUpdated, t0.Add(-time.Hour), &events.MemberProfileUpdatedData{Consent: &events.Consent{EmailMarketing: true}}, true, func(t *testing.T, m loyalty.Member) {
			if m.Consent.EmailMarketing {
				t.Error("a late, older opt-in revived consent")
			}
		}},
		{"orders count and keep the newest time", base, events.OrderPaid, t0.Add(48 * time.Hour), &events.OrderPaidData{OrderID: "o"}, true, func(t *testing.T, m loyalty.Member) {
			if m.OrderCount != 1 || !m.LastOrderAt.Equal(t0.Add(48*time.Hour)) {
				t.Errorf("member = %+v", m)
			}
		}},
		{"an erased member's registration writes no personal data back", erased, events.MemberRegistered, t0.Add(time.Hour), registered(false), true, func(t *testing.T, m loyalty.Member) {
			if m.Email != "" || m.Name != "" || m.Birthday != "" || !m.BirthdaySetAt.IsZero() || !m.ErasedAt.Equal(erased.ErasedAt) {
				t.Errorf("member = %+v, want no personal data and the erased mark kept", m)
			}
			if m.Locale != "zh-CN" || m.Consent.EmailMarketing || !m.RegisteredAt.Equal(t0) {
				t.Errorf("member = %+v, want the rest applied (consent off, registration time kept)", m)
			}
		}},
		{"an erased member's profile update writes no personal data back", erased, events.MemberProfileUpdated, t0.Add(time.Hour),
			&events.MemberProfileUpdatedData{Email: ptr("new@example.com"), Name: ptr("New"), Phone: ptr("+8613800000000"), Birthday: &events.Date{Year: 1991, Month: time.July, Day: 23}, Locale: ptr("en-GB")}, true,
			func(t *testing.T, m loyalty.Member) {
				if m.Email != "" || m.Name != "" || m.Phone != "" || m.Birthday != "" || m.Locale != "en-GB" || !m.Erased() {
					t.Errorf("member = %+v, want the locale only", m)
				}
			}},
		{"an erased member's orders still count", erased, events.OrderPaid, t0.Add(48 * time.Hour), &events.OrderPaidData{OrderID: "o"}, true, func(t *testing.T, m loyalty.Member) {
			if m.OrderCount != 1 || !m.LastOrderAt.Equal(t0.Add(48*time.Hour)) || !m.Erased() {
				t.Errorf("member = %+v", m)
			}
		}},
		{"check-ins leave the profile alone", base, events.MemberCheckedIn, t0.Add(time.Hour), &events.MemberCheckedInData{}, false, func(t *testing.T, m loyalty.Member) {
			if !m.UpdatedAt.Equal(t0) {
				t.Errorf("updated_at moved to %s", m.UpdatedAt)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := loyalty.Project(tc.start, env(tc.typ, tc.at), tc.data)
			if changed != tc.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tc.wantChanged)
			}
			tc.check(t, got)
		})
	}
}

func TestErrorCode(t *testing.T) {
	if got, want := loyalty.ErrorCode(loyalty.Errorf(loyalty.EInvalid, "bad %s", "x")), loyalty.EInvalid; got != want {
		t.Errorf("code = %q, want %q", got, want)
	}
	if got, want := loyalty.ErrorCode(errPlain{}), loyalty.EInternal; got != want {
		t.Errorf("code = %q, want %q", got, want)
	}
	if got := loyalty.ErrorCode(nil); got != "" {
		t.Errorf("code of nil = %q", got)
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "plain" }
