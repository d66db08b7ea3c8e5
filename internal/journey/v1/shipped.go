package journeyv1

import (
	"embed"
	"fmt"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/templates"
)

// Files are the definitions the first engine shipped, kept with it for the
// enrollments it still runs; the journeys memberflow ships now are in
// templates/journeys, in the journey language.
//
//go:embed journeys/*.yaml
var Files embed.FS

// Shipped loads the first engine's journeys, checked against the
// email templates in templates/email and the programme's coupons.
func Shipped(p *loyalty.Program) (Set, error) {
	cat, err := mail.LoadCatalog(templates.Email)
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	set, err := Load(Files, Checks{
		Template:       func(name string) error { _, err := cat.Group(name); return err },
		Coupon:         func(kind string) bool { _, ok := p.Coupon(kind); return ok },
		BirthdayCoupon: p.Birthday.Coupon,
	})
	if err != nil {
		return nil, fmt.Errorf("journeys: %w", err)
	}
	return set, nil
}

// Clone returns a deep copy of the set, for changing it (tests shorten
// delays) without touching the original.
func (s Set) Clone() Set {
	out := make(Set, len(s))
	for _, name := range Names {
		d, ok := s[name]
		if !ok {
			continue
		}
		d.Steps = append([]Step(nil), d.Steps...)
		for i, st := range d.Steps {
			if st.Reward != nil {
				r := *st.Reward
				if r.Boost != nil {
					b := *r.Boost
					r.Boost = &b
				}
				d.Steps[i].Reward = &r
			}
		}
		out[name] = d
	}
	return out
}
