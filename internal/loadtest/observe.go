package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/mail"
	"github.com/memberflow/memberflow/internal/mail/outbox"
	"github.com/memberflow/memberflow/internal/store"
	"github.com/memberflow/memberflow/internal/store/dynamo"
)

// observer reads what the stack did: the outbox files, the member API and
// the table itself.
type observer struct {
	base, token string
	outbox      *outbox.Sink // only List is used
	welcome     string       // the activation journey's first email template
	store       *dynamo.Store
	client      *http.Client
}

// welcomes lists the welcome emails in the outbox by member, oldest first.
func (o *observer) welcomes() (map[string][]time.Time, error) {
	entries, err := o.outbox.List()
	if err != nil {
		return nil, fmt.Errorf("list outbox %s: %w", o.outbox.Dir, err)
	}
	out := map[string][]time.Time{}
	for _, e := range entries {
		if e.Template == o.welcome {
			out[e.MemberID] = append(out[e.MemberID], e.Time)
		}
	}
	return out, nil
}

// welcomeKeys describes the member's welcome emails for a report of a
// duplicate: when each was accepted and the idempotency key it carried
// (its custom_args; never the address).
func (o *observer) welcomeKeys(member string) []string {
	entries, err := o.outbox.List()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range entries {
		if e.Template != o.welcome || e.MemberID != member {
			continue
		}
		var req struct {
			CustomArgs map[string]string `json:"custom_args"`
		}
		b, err := os.ReadFile(e.JSONPath)
		if err == nil {
			err = json.Unmarshal(b, &req)
		}
		key := req.CustomArgs[mail.CustomArgIdempotencyKey]
		if err != nil {
			key = err.Error()
		}
		out = append(out, e.Time.Format(time.RFC3339Nano)+" "+key)
	}
	return out
}

// standing reads GET /v1/members/{id}.
func (o *observer) standing(ctx context.Context, id string) (standing, error) {
	var s standing
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/v1/members/"+id, nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := o.client.Do(req)
	if err != nil {
		return s, fmt.Errorf("read member %s: %w", id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return s, fmt.Errorf("read member %s: %w", id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("read member %s: %s %s", id, resp.Status, body)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("read member %s: %w", id, err)
	}
	return s, nil
}

// account reads the stored account; found is false before the ledger
// applied anything for the member.
func (o *observer) account(ctx context.Context, id string) (a loyalty.Account, found bool, err error) {
	a, err = o.store.GetAccount(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, false, nil
	}
	return a, err == nil, err
}

// entries reads every ledger entry of the member, newest first.
func (o *observer) entries(ctx context.Context, id string) ([]loyalty.Entry, error) {
	const page = 200
	var out []loyalty.Entry
	before := int64(0)
	for {
		es, err := o.store.ListEntries(ctx, id, page, before)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
		if len(es) < page || es[len(es)-1].Seq <= 1 {
			return out, nil
		}
		before = es[len(es)-1].Seq
	}
}

// applied reports whether the event's effect is in the member's stored
// state: a registration projected (the welcome is checked separately), an
// order in the account, a refund on its order.
func applied(ev event, projected bool, a loyalty.Account, haveAccount bool) bool {
	switch {
	case ev.RefundID != "":
		if !haveAccount {
			return false
		}
		for _, o := range a.Orders {
			if o.OrderID == ev.OrderID {
				for _, r := range o.RefundIDs {
					if r == ev.RefundID {
						return true
					}
				}
			}
		}
		return false
	case ev.OrderID != "":
		if !haveAccount {
			return false
		}
		for _, o := range a.Orders {
			if o.OrderID == ev.OrderID {
				return true
			}
		}
		return false
	default:
		return projected
	}
}

// counters reads the stack's call counters from GET /debug/vars
// (expvar's JSON, the map "memberflow_calls" that internal/opcount keeps:
// "dynamodb.<Operation>", "temporal.<Method>", "streams.<Operation>",
// cumulative since the stack started). ok is false when the stack
// exposes none, which `make load` reports instead of a figure.
func (o *observer) counters(ctx context.Context) (calls map[string]float64, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/debug/vars", nil)
	if err != nil {
		return nil, false
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var vars struct {
		Calls map[string]float64 `json:"memberflow_calls"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil || vars.Calls == nil {
		return nil, false
	}
	return vars.Calls, true
}

// callCost sums what happened between two counter readings, per n, by
// prefix ("dynamodb", "temporal"), and lists each operation's share.
func callCost(before, after map[string]float64, prefix string, n float64) (total float64, detail string) {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		name, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		d := (after[k] - before[k]) / n
		if d < 0.005 {
			continue
		}
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2f", name, d))
	}
	return total, strings.Join(parts, ", ")
}
