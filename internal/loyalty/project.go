package loyalty

import (
	"slices"
	"time"

	"github.com/memberflow/memberflow/events"
)

// Project applies one recorded event to a member's projection and reports
// whether anything changed. data is env.DecodeData()'s result. Events that
// carry nothing for the profile (check-ins, reviews …) leave it unchanged;
// the loyalty rules act on them elsewhere.
//
// Consent follows the newest statement: an older event delivered late never
// overrides a newer consent change, so an unsubscribe cannot be undone by a
// retried registration.
//
// An erased member (Erased) keeps no personal data: a registration or
// profile update for them, arriving late from the stream or sent again
// by the storefront, changes the rest of the profile (time zone, locale,
// consent) but writes no email, name, phone or birthday back.
func Project(m Member, env events.Envelope, data any) (Member, bool) {
	at := env.OccurredAt
	switch d := data.(type) {
	case *events.MemberRegisteredData:
		m.Email, m.Name, m.Timezone, m.Locale, m.Phone, m.ReferralCode = d.Email, d.Name, d.Timezone, d.Locale, d.Phone, d.ReferralCode
		bday := ""
		if d.Birthday != nil {
			bday = d.Birthday.String()
		}
		setBirthday(&m, bday, at)
		if m.RegisteredAt.IsZero() || at.Before(m.RegisteredAt) {
			m.RegisteredAt = at
		}
		setConsent(&m, d.Consent.EmailMarketing, at)
	case *events.MemberProfileUpdatedData:
		set(&m.Email, d.Email)
		set(&m.Name, d.Name)
		set(&m.Timezone, d.Timezone)
		set(&m.Locale, d.Locale)
		set(&m.Phone, d.Phone)
		set(&m.ReferralCode, d.ReferralCode)
		if d.Birthday != nil {
			setBirthday(&m, d.Birthday.String(), at)
		}
		if d.Consent != nil {
			setConsent(&m, d.Consent.EmailMarketing, at)
		}
	case *events.MemberUnsubscribedData:
		// Without a group the member leaves all marketing email until they
		// opt in again; with one, only that group.
		if d.Group == "" {
			setConsent(&m, false, at)
		} else if !slices.Contains(m.Consent.UnsubscribedGroups, d.Group) {
			m.Consent.UnsubscribedGroups = append(slices.Clone(m.Consent.UnsubscribedGroups), d.Group)
		}
	case *events.OrderPaidData:
		m.OrderCount++
		if at.After(m.LastOrderAt) {
			m.LastOrderAt = at
		}
	default:
		return m, false
	}
	if at.After(m.UpdatedAt) {
		m.UpdatedAt = at
	}
	if m.Erased() {
		m = m.WithoutPersonalData()
	}
	m.ID = env.MemberID
	return m, true
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setConsent(m *Member, on bool, at time.Time) {
	if !m.Consent.UpdatedAt.IsZero() && at.Before(m.Consent.UpdatedAt) {
		return
	}
	m.Consent = Consent{EmailMarketing: on, UpdatedAt: at}
}

// setBirthday records a birthday and, when it differs from the one on file,
// when it was set.
func setBirthday(m *Member, bday string, at time.Time) {
	if bday == m.Birthday {
		return
	}
	m.Birthday = bday
	m.BirthdaySetAt = time.Time{}
	if bday != "" {
		m.BirthdaySetAt = at
	}
}
