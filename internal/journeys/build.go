package journeys

import (
	"github.com/memberflow/memberflow/internal/engine"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// New builds a binary's journeys service and decision engine over the
// programme and the email catalog the definitions are validated against.
// The caller sets Changed (the worker's and the API's schedule hook) and
// builds the Enroller with its Runner.
func New(st store.Store, p *loyalty.Program, cat Catalog) (*Service, *engine.Engine, error) {
	eng, err := engine.New(p)
	if err != nil {
		return nil, nil, err
	}
	return &Service{Store: st, Checks: NewChecks(p, cat, eng.Cond)}, eng, nil
}

// ShippedDir is the directory of templates.Journeys holding the shipped
// journeys, published at start-up when they changed (PublishFiles).
const ShippedDir = "journeys"
