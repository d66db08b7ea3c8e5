package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// RecordSendEvent writes, in one transaction: the event id's create-only
// marker (ErrDuplicate when it exists), the event, and what the event
// changes: if the send had no event of this type, the first-of-type marker
// (create-only) and the count in the step's stats; for processed and
// delivered, if the send row is still pending, its move to sent
// (conditioned on pending) and the "sent" count.
//
// Nothing is read first. The transaction is written for the likely state,
// and when a condition fails, the cancellation hands back the item that
// failed it (ReturnValuesOnConditionCheckFailure), which says what the
// state is: the transaction is written again for that state at once. The
// likely state is the first event of its type, and a row no longer
// pending (checked by a condition), because the provider reports on a
// send after the activity completed it — unless the event is only moments
// old (see racingAge). A row that is missing or final must not fail the
// event, which is why the row's condition takes one of two forms rather
// than being a precondition. When another writer is in flight on the same
// items, the whole is tried again after a pause.
func (s *Store) RecordSendEvent(ctx context.Context, ev store.SendEvent) error {
	if err := store.CheckSendEvent(ev); err != nil {
		return err
	}
	pk := memberPK(ev.MemberID)
	event := newSendEventItem(ev)
	idMarker := sendEventIDItem{
		itemKey: itemKey{PK: pk, SK: sendEventIDSK(ev.ID)},
		Entity:  entitySendEventID,
		EventID: ev.ID,
		EventSK: event.SK,
	}
	firstMarker := sendFirstItem{
		itemKey: itemKey{PK: pk, SK: sendFirstSK(ev.SendKey, ev.Type)},
		Entity:  entitySendFirst,
		SendKey: ev.SendKey,
		Type:    ev.Type,
		EventID: ev.ID,
	}
	rowSK := sendSK(ev.SendKey)
	toSent := expression.Set(expression.Name(attrStatus), expression.Value(string(store.SendSent))).
		Set(expression.Name(attrUpdatedAt), expression.Value(ev.At))
	if ev.MessageID != "" {
		toSent = toSent.Set(expression.Name(attrMessageID), expression.Value(ev.MessageID))
	}

	// What the transaction takes the state to be, corrected by each
	// cancellation that says otherwise. pendingRow is the row when it is
	// taken to be pending: its step is the event's until the row says.
	typeSeen := false
	var pendingRow *sendItem
	if store.MarksSent(ev.Type) && time.Since(ev.At) < racingAge {
		pendingRow = &sendItem{Journey: ev.Journey, Step: ev.Step}
	}
	err := retryRaces(ctx, func() (bool, error) {
		// Each correction learns one of the two facts, and either may
		// change once more under a concurrent writer.
		for range 3 {
			tx := &writeTx{table: s.table}
			stats := statsDelta{}
			if err := tx.put(roleSendEventID, -1, idMarker, notExists()); err != nil {
				return false, fmt.Errorf("id marker: %w", err)
			}
			if err := tx.put(roleSendEvent, -1, event, expression.ConditionBuilder{}); err != nil {
				return false, fmt.Errorf("event: %w", err)
			}
			if !typeSeen {
				if err := tx.put(roleSendFirst, -1, firstMarker, notExists()); err != nil {
					return false, fmt.Errorf("first-of-type marker: %w", err)
				}
				stats.add(ev.Journey, ev.Step, ev.Type)
			}
			switch {
			case !store.MarksSent(ev.Type):
			case pendingRow != nil:
				if err := tx.update(roleSendRow, -1, pk, rowSK, toSent, stillPending().And(ofStep(pendingRow.Journey, pendingRow.Step))); err != nil {
					return false, fmt.Errorf("send row: %w", err)
				}
				stats.sent(pendingRow.Journey, pendingRow.Step, ev.At)
			default:
				if err := tx.check(roleSendRow, pk, rowSK, notPending()); err != nil {
					return false, fmt.Errorf("send row: %w", err)
				}
			}
			if err := tx.stats(ev.MemberID, stats); err != nil {
				return false, err
			}
			err := tx.write(ctx, s.client)
			reasons, ok := cancellation(err)
			if !ok {
				return false, err
			}
			if tx.failed(codesOf(reasons), roleSendEventID) && len(reasons) == len(tx.items) {
				// Recorded before: whatever else failed, the caller must stop.
				return false, store.ErrDuplicate
			}
			learned := false
			if item, failed := tx.old(reasons, roleSendFirst); failed && item != nil {
				typeSeen, learned = true, true
			}
			if item, failed := tx.old(reasons, roleSendRow); failed {
				var row sendItem
				if item != nil {
					if err := attributevalue.UnmarshalMap(item, &row); err != nil {
						return false, fmt.Errorf("read send row: %w", err)
					}
				}
				switch pending := item != nil && row.Status == string(store.SendPending); {
				case pending && (pendingRow == nil || pendingRow.Journey != row.Journey || pendingRow.Step != row.Step):
					pendingRow, learned = &row, true
				case !pending && pendingRow != nil:
					pendingRow, learned = nil, true
				}
			}
			if !learned {
				return lostOrFailed(err)
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("record send event %s (%s of %s): %w", ev.ID, ev.Type, ev.SendKey, err)
	}
	return nil
}

// racingAge is how old a processed or delivered event can be and still
// race the activity completing its send: an event reported within moments
// of the send (the local stack's outbox reports "processed" as it takes the
// message) is as likely to find the row pending as final, and the move is
// the better guess then — it costs one write when right and two when not,
// where checking for a final row first costs up to three when the activity
// completes the row in between. Reports that come later, as SendGrid's
// batches do (every 30 seconds at most), find the row final. Event times
// are whole seconds, hence two of them: a report at most a second or so
// after the send.
const racingAge = 2 * time.Second

// notPending is the condition that a send row is not waiting for its
// outcome: it is final, or there is no row.
func notPending() expression.ConditionBuilder {
	return expression.AttributeNotExists(expression.Name(attrStatus)).
		Or(expression.Name(attrStatus).NotEqual(expression.Value(string(store.SendPending))))
}

// ListSendEvents reads the member's events from since on: one range of
// sort keys, which are ordered by time.
func (s *Store) ListSendEvents(ctx context.Context, memberID string, since time.Time) ([]store.SendEvent, error) {
	items, err := queryAll[sendEventItem](ctx, s, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(memberPK(memberID))),
		expression.Key(attrSK).Between(expression.Value(sendEventSinceSK(since)), expression.Value(sendEventsEndSK)),
	))
	if err != nil {
		return nil, fmt.Errorf("list send events of %s: %w", memberID, err)
	}
	out := make([]store.SendEvent, len(items))
	for i, it := range items {
		out[i] = it.sendEvent()
	}
	return out, nil
}

// Suppress writes the suppression create-only, so the first one stays.
func (s *Store) Suppress(ctx context.Context, sup store.Suppression) error {
	if err := store.CheckSuppression(sup); err != nil {
		return err
	}
	var existing suppressionItem
	if _, err := s.createOnly(ctx, newSuppressionItem(sup), &existing); err != nil {
		return fmt.Errorf("suppress %s: %w", sup.MemberID, err)
	}
	return nil
}

// GetSuppression reads the member's suppression.
func (s *Store) GetSuppression(ctx context.Context, memberID string) (store.Suppression, error) {
	var it suppressionItem
	found, err := s.getItem(ctx, memberPK(memberID), skSuppressed, &it)
	if err != nil {
		return store.Suppression{}, fmt.Errorf("get suppression of %s: %w", memberID, err)
	}
	if !found {
		return store.Suppression{}, fmt.Errorf("get suppression of %s: %w", memberID, store.ErrNotFound)
	}
	return it.suppression(), nil
}

// RecordConversion writes the conversion's create-only marker and the
// count in the send's step stats in one transaction.
func (s *Store) RecordConversion(ctx context.Context, memberID, orderID string, send store.SendEvent, at time.Time) error {
	if err := store.CheckConversion(memberID, orderID, send); err != nil {
		return err
	}
	marker := conversionItem{
		itemKey:    itemKey{PK: memberPK(memberID), SK: conversionSK(orderID, send.SendKey)},
		Entity:     entityConversion,
		MemberID:   memberID,
		OrderID:    orderID,
		SendKey:    send.SendKey,
		Journey:    send.Journey,
		Step:       send.Step,
		Enrollment: send.Enrollment,
		EventID:    send.ID,
		At:         at,
	}
	stats := statsDelta{}
	stats.add(send.Journey, send.Step, store.StatsConversion)
	tx := &writeTx{table: s.table}
	if err := tx.put(roleConversion, -1, marker, notExists()); err != nil {
		return fmt.Errorf("record conversion %s of %s: marker: %w", orderID, send.SendKey, err)
	}
	if err := tx.stats(memberID, stats); err != nil {
		return fmt.Errorf("record conversion %s of %s: %w", orderID, send.SendKey, err)
	}
	// Nothing was read, so only the stats shard can be lost to a race
	// (another transaction on it in flight); trying again is enough.
	err := retryRaces(ctx, func() (bool, error) {
		err := tx.write(ctx, s.client)
		if codes, ok := cancellationCodes(err); ok && len(codes) == len(tx.items) && tx.failed(codes, roleConversion) {
			return false, store.ErrDuplicate
		}
		return lostOrFailed(err)
	})
	if err != nil {
		return fmt.Errorf("record conversion %s of %s: %w", orderID, send.SendKey, err)
	}
	return nil
}

// JourneyStats reads the step counters of the journey's stats partition
// and sums each step's shards.
func (s *Store) JourneyStats(ctx context.Context, journey string) ([]store.StepStats, error) {
	items, err := s.queryItems(ctx, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(statsPK(journey))),
		expression.Key(attrSK).BeginsWith(skStepStatsPrefix),
	))
	if err != nil {
		return nil, fmt.Errorf("journey stats of %s: %w", journey, err)
	}
	steps := map[string]map[string]int64{}
	for _, item := range items {
		step, ok := item[attrStep].(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("journey stats of %s: shard %v has no step", journey, item[attrSK])
		}
		counts := steps[step.Value]
		if counts == nil {
			counts = map[string]int64{}
			steps[step.Value] = counts
		}
		if err := addCounts(counts, item); err != nil {
			return nil, fmt.Errorf("journey stats of %s, step %s: %w", journey, step.Value, err)
		}
	}
	out := make([]store.StepStats, 0, len(steps))
	for _, step := range slices.Sorted(maps.Keys(steps)) {
		out = append(out, store.StepStats{Step: step, Counts: steps[step]})
	}
	return out, nil
}

// JourneySentDays reads the journey's sent-per-day shards from from's day
// to to's, with one query of their key range, and sums each day's shards.
func (s *Store) JourneySentDays(ctx context.Context, journey string, from, to time.Time) (map[string]int64, error) {
	items, err := s.queryItems(ctx, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(statsPK(journey))),
		// "~" sorts after every shard number.
		expression.Key(attrSK).Between(expression.Value(skSentDayPrefix+store.SentDay(from)), expression.Value(skSentDayPrefix+store.SentDay(to)+"#~")),
	))
	if err != nil {
		return nil, fmt.Errorf("sends per day of %s: %w", journey, err)
	}
	out := map[string]int64{}
	for _, item := range items {
		day, ok := item[attrDay].(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("sends per day of %s: shard %v has no day", journey, item[attrSK])
		}
		counts := map[string]int64{}
		delete(item, attrDay)
		if err := addCounts(counts, item); err != nil {
			return nil, fmt.Errorf("sends per day of %s on %s: %w", journey, day.Value, err)
		}
		out[day.Value] += counts[store.StatsSent]
	}
	return out, nil
}

// addCounts adds one stats shard's counters to counts.
func addCounts(counts map[string]int64, item map[string]types.AttributeValue) error {
	for name, av := range item {
		switch name {
		case attrPK, attrSK, attrEntity, attrJourney, attrStep:
			continue
		}
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return fmt.Errorf("counter %s is %T, want a number", name, av)
		}
		v, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return fmt.Errorf("counter %s: %w", name, err)
		}
		counts[name] += v
	}
	return nil
}

// stepRef names one journey step.
type stepRef struct{ journey, step string }

// statsDelta is what one write adds to step stats, by step and stats key,
// and to the journeys' sent-per-day counters.
type statsDelta struct {
	steps    map[stepRef]map[string]int64
	sentDays map[journeyDay]int64
}

// journeyDay names one journey's day (store.SentDay).
type journeyDay struct{ journey, day string }

// add counts key once for the step. A send reserved without a journey or
// step has no stats to count in, so nothing is added for it.
func (d *statsDelta) add(journey, step, key string) {
	if journey == "" || step == "" {
		return
	}
	if d.steps == nil {
		d.steps = map[stepRef]map[string]int64{}
	}
	ref := stepRef{journey, step}
	if d.steps[ref] == nil {
		d.steps[ref] = map[string]int64{}
	}
	d.steps[ref][key]++
}

// sent counts a send moved to sent at at: "sent" in its step and one in
// its journey's day.
func (d *statsDelta) sent(journey, step string, at time.Time) {
	if journey == "" || step == "" {
		return
	}
	d.add(journey, step, store.StatsSent)
	if d.sentDays == nil {
		d.sentDays = map[journeyDay]int64{}
	}
	d.sentDays[journeyDay{journey, store.SentDay(at)}]++
}

// stats adds an unconditional update of each step's shard for memberID,
// and of each journey day's shard. Each step's counts go into one update,
// because a transaction may not touch an item twice.
func (tx *writeTx) stats(memberID string, d statsDelta) error {
	shard := statsShard(memberID)
	days := slices.SortedFunc(maps.Keys(d.sentDays), func(a, b journeyDay) int {
		return cmp.Or(cmp.Compare(a.journey, b.journey), cmp.Compare(a.day, b.day))
	})
	for _, jd := range days {
		update := expression.Set(expression.Name(attrEntity), expression.Value(entitySentDay)).
			Set(expression.Name(attrJourney), expression.Value(jd.journey)).
			Set(expression.Name(attrDay), expression.Value(jd.day)).
			Add(expression.Name(store.StatsSent), expression.Value(d.sentDays[jd]))
		if err := tx.update(roleStats, -1, statsPK(jd.journey), sentDaySK(jd.day, shard), update, expression.ConditionBuilder{}); err != nil {
			return fmt.Errorf("sends of %s on %s: %w", jd.journey, jd.day, err)
		}
	}
	refs := slices.SortedFunc(maps.Keys(d.steps), func(a, b stepRef) int {
		return cmp.Or(cmp.Compare(a.journey, b.journey), cmp.Compare(a.step, b.step))
	})
	for _, ref := range refs {
		update := expression.Set(expression.Name(attrEntity), expression.Value(entityStepStats)).
			Set(expression.Name(attrJourney), expression.Value(ref.journey)).
			Set(expression.Name(attrStep), expression.Value(ref.step))
		for _, k := range slices.Sorted(maps.Keys(d.steps[ref])) {
			// NameNoDotSplit: a stats key is one attribute, dots and
			// colons included; store's checks keep brackets out.
			update = update.Add(expression.NameNoDotSplit(k), expression.Value(d.steps[ref][k]))
		}
		if err := tx.update(roleStats, -1, statsPK(ref.journey), statsSK(ref.step, shard), update, expression.ConditionBuilder{}); err != nil {
			return fmt.Errorf("stats of %s/%s: %w", ref.journey, ref.step, err)
		}
	}
	return nil
}
