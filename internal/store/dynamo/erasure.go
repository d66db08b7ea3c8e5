package dynamo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/store"
)

// addressSuppressionItem records an erased address by its hash, in a
// partition of its own: a member re-imported under another id with the
// same address finds it by the hash alone.
type addressSuppressionItem struct {
	itemKey
	Entity string    `dynamodbav:"entity"`
	Hash   string    `dynamodbav:"hash"`
	At     time.Time `dynamodbav:"at"`
}

func newAddressSuppressionItem(hash string, at time.Time) addressSuppressionItem {
	return addressSuppressionItem{itemKey: itemKey{PK: addressPK(hash), SK: skAddress}, Entity: entityAddress, Hash: hash, At: at.UTC()}
}

// SuppressAddress writes the hash's item create-only.
func (s *Store) SuppressAddress(ctx context.Context, hash string, at time.Time) error {
	_, err := s.suppressAddress(ctx, hash, at)
	return err
}

func (s *Store) suppressAddress(ctx context.Context, hash string, at time.Time) (bool, error) {
	if hash == "" {
		return false, fmt.Errorf("suppress address: a hash is required")
	}
	var existing addressSuppressionItem
	created, err := s.createOnly(ctx, newAddressSuppressionItem(hash, at), &existing)
	if err != nil {
		return false, fmt.Errorf("suppress address: %w", err)
	}
	return created, nil
}

// addressSuppression reads the suppression of the member's address, nil
// when it was never erased. It is the one read SendContext adds to its
// batch, and only for a member with an address.
func (s *Store) addressSuppression(ctx context.Context, memberID, email string) (*store.Suppression, error) {
	h := store.AddressHash(email)
	if h == "" {
		return nil, nil
	}
	var it addressSuppressionItem
	found, err := s.getItem(ctx, addressPK(h), skAddress, &it)
	if err != nil || !found {
		return nil, err
	}
	return &store.Suppression{MemberID: memberID, Reason: store.SuppressedErasedReason, Source: store.SuppressedErasedSource, At: it.At}, nil
}

// MemberEvents reads the member's events from their event index (GSI3,
// MEVENTS#<member>): no scan. The index is eventually consistent, so an
// event recorded a moment ago may be missing.
func (s *Store) MemberEvents(ctx context.Context, memberID string) ([]store.RecordedEvent, error) {
	items, err := s.memberEventItems(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", memberID, err)
	}
	out := make([]store.RecordedEvent, len(items))
	for i, it := range items {
		out[i] = it.recordedEvent()
	}
	slices.SortFunc(out, func(a, b store.RecordedEvent) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (s *Store) memberEventItems(ctx context.Context, memberID string) ([]eventItem, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrGSI3PK).Equal(expression.Value(memberEventsGSI3PK(memberID)))).Build()
	if err != nil {
		return nil, err
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsi3Name),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var out []eventItem
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		var its []eventItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &its); err != nil {
			return nil, err
		}
		out = append(out, its...)
	}
	return out, nil
}

// RedactEvent redacts one recorded event's payload: a read, and an
// UpdateItem when something personal was found.
func (s *Store) RedactEvent(ctx context.Context, source, id string, p store.PersonalData, at time.Time) (bool, error) {
	var it eventItem
	found, err := s.getItem(ctx, eventPK(source, id), skEvent, &it)
	if err != nil {
		return false, fmt.Errorf("redact event %s/%s: %w", source, id, err)
	}
	if !found {
		return false, fmt.Errorf("redact event %s/%s: %w", source, id, store.ErrNotFound)
	}
	red, changed := p.RedactJSON([]byte(it.Payload))
	if !changed {
		return false, nil
	}
	if err := s.setEventPayload(ctx, it, red, at); err != nil {
		return false, fmt.Errorf("redact event %s/%s: %w", source, id, err)
	}
	return true, nil
}

// setEventPayload replaces a recorded event's payload with its redaction,
// noting when; the event must still exist.
func (s *Store) setEventPayload(ctx context.Context, it eventItem, red []byte, at time.Time) error {
	upd := expression.Set(expression.Name("payload"), expression.Value(string(red))).
		Set(expression.Name("erased_at"), expression.Value(at.UTC()))
	_, err := s.updateItem(ctx, it.PK, it.SK, upd, expression.AttributeExists(expression.Name(attrPK)), false)
	return err
}

// Attributes an erasure removes from the profile. GSI1 is the birthday
// index: an erased member has no birthday to be found by.
var erasedProfileAttrs = []string{"email", "name", "phone", "birthday", "birthday_set_at", "attributes", attrGSI1PK, attrGSI1SK}

// MarkErased sets erased_at and moves the version on, with one
// UpdateItem conditioned on the profile being there and not marked; a
// failed condition is then told apart by the item it returns.
func (s *Store) MarkErased(ctx context.Context, memberID string, at time.Time) error {
	upd := expression.Set(expression.Name("erased_at"), expression.Value(at.UTC())).
		Set(expression.Name("version"), expression.Name("version").Plus(expression.Value(1)))
	cond := expression.AttributeExists(expression.Name(attrPK)).And(expression.AttributeNotExists(expression.Name("erased_at")))
	_, err := s.updateItem(ctx, memberPK(memberID), skProfile, upd, cond, false)
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && len(ccf.Item) == 0:
		return fmt.Errorf("mark %s erased: %w", memberID, store.ErrNotFound)
	case errors.As(err, &ccf):
		return nil // marked before
	case err != nil:
		return fmt.Errorf("mark %s erased: %w", memberID, err)
	}
	return nil
}

// EraseMember blanks the member's personal data where it is kept: the
// profile, their recorded events (found through the member's event
// index, GSI3) and the items of their partition that hold free text or
// recorded inputs (one Query of the partition; erasedAttrs). No Scan: a
// member's items are all under their key or in their index. See
// store.Erasure for why the keys stay as they are.
func (s *Store) EraseMember(ctx context.Context, memberID string, at time.Time) (store.Erased, error) {
	out := store.Erased{MemberID: memberID}
	pk := memberPK(memberID)
	var prof memberItem
	found, err := s.getItem(ctx, pk, skProfile, &prof)
	if err != nil {
		return out, fmt.Errorf("erase member %s: %w", memberID, err)
	}
	if !found {
		return out, fmt.Errorf("erase member %s: %w", memberID, store.ErrNotFound)
	}
	m := prof.member()
	evs, err := s.memberEventItems(ctx, memberID)
	if err != nil {
		return out, fmt.Errorf("erase member %s: events: %w", memberID, err)
	}
	recorded := make([]store.RecordedEvent, len(evs))
	for i, ev := range evs {
		recorded[i] = ev.recordedEvent()
	}
	// What the profile holds and what the events ever set on it: an
	// address the member changed before the erasure may still be in a
	// send row or the timeline.
	p := store.PersonalDataOf(m, recorded)
	// The address is suppressed before it is removed: an erasure that
	// stops half-way and is repeated finds the address gone, so it must
	// not be the step that records the hash.
	if h := store.AddressHash(m.Email); h != "" {
		if out.Suppressed, err = s.suppressAddress(ctx, h, at); err != nil {
			return out, fmt.Errorf("erase member %s: %w", memberID, err)
		}
	}
	// The partition's items first, then the events, then the profile:
	// until the last two are blanked, a repeat still knows every value
	// to look for.
	items, err := s.queryItems(ctx, expression.Key(attrPK).Equal(expression.Value(pk)))
	if err != nil {
		return out, fmt.Errorf("erase member %s: items: %w", memberID, err)
	}
	for _, it := range items {
		sk, _ := it[attrSK].(*types.AttributeValueMemberS)
		if sk == nil || sk.Value == skProfile {
			continue
		}
		changed, err := s.redactItem(ctx, it, p)
		if err != nil {
			return out, fmt.Errorf("erase member %s: item %s: %w", memberID, sk.Value, err)
		}
		if changed {
			out.Items++
		}
	}
	for _, ev := range evs {
		red, changed := p.RedactJSON([]byte(ev.Payload))
		if !changed {
			continue
		}
		if err := s.setEventPayload(ctx, ev, red, at); err != nil {
			return out, fmt.Errorf("erase member %s: event %s/%s: %w", memberID, ev.Source, ev.EventID, err)
		}
		out.Events++
	}
	if store.MemberHasPersonalData(m) || !m.Erased() {
		// The first erasure's time stays the mark's.
		upd := expression.Set(expression.Name("erased_at"), expression.Value(store.BlankMember(m, at).ErasedAt)).
			Set(expression.Name("version"), expression.Name("version").Plus(expression.Value(1)))
		for _, a := range erasedProfileAttrs {
			upd = upd.Remove(expression.Name(a))
		}
		// Conditioned on the version read: a projection write in between
		// would bring its own values, so the erasure is refused and
		// repeated rather than blanking only what it read.
		_, err := s.updateItem(ctx, pk, skProfile, upd, expression.Name("version").Equal(expression.Value(prof.Version)), false)
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return out, fmt.Errorf("erase member %s: profile changed meanwhile: %w", memberID, store.ErrConflict)
		}
		if err != nil {
			return out, fmt.Errorf("erase member %s: profile: %w", memberID, err)
		}
		out.Profile = true
	}
	return out, nil
}

// erasedAttrs are, by entity, the attributes of a member's partition an
// erasure redacts; every other attribute and entity is left as it is.
// Text attributes are free text (a send's reason, a link clicked) and
// have the member's values replaced inside them (PersonalData.Redact);
// JSON attributes (the journal's recorded inputs, ledger entries, a
// timeline entry's values) are redacted by field (RedactJSON), so they
// still decode and their ids, keys, rules and amounts stay. Replacing
// values inside every string instead would also rewrite statuses and
// keys that merely contain a short name ("Ted" in "completed").
var erasedAttrs = map[string]struct{ text, json []string }{
	entitySend:          {text: []string{"reason"}},
	entitySendEvent:     {text: []string{"reason", "url"}},
	entitySuppression:   {text: []string{"reason"}},
	entityTimeline:      {text: []string{"reason"}, json: []string{"values"}},
	entityLedgerEntry:   {json: []string{"entry"}},
	entityLedgerApplied: {json: []string{"params"}},
}

// redactItem redacts the attributes erasedAttrs names for item's entity,
// with one UpdateItem of those that changed; the item must still exist.
func (s *Store) redactItem(ctx context.Context, item map[string]types.AttributeValue, p store.PersonalData) (bool, error) {
	entity, _ := item[attrEntity].(*types.AttributeValueMemberS)
	if entity == nil {
		return false, nil
	}
	attrs := erasedAttrs[entity.Value]
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var sets []string
	set := func(k, v string) {
		n, val := fmt.Sprintf("#a%d", len(sets)), fmt.Sprintf(":v%d", len(sets))
		names[n], values[val] = k, &types.AttributeValueMemberS{Value: v}
		sets = append(sets, n+" = "+val)
	}
	for _, k := range attrs.text {
		if v, ok := item[k].(*types.AttributeValueMemberS); ok {
			if r := p.Redact(v.Value); r != v.Value {
				set(k, r)
			}
		}
	}
	for _, k := range attrs.json {
		if v, ok := item[k].(*types.AttributeValueMemberS); ok {
			if r, changed := p.RedactJSON([]byte(v.Value)); changed {
				set(k, string(r))
			}
		}
	}
	if len(sets) == 0 {
		return false, nil
	}
	names["#pk"] = attrPK
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{attrPK: item[attrPK], attrSK: item[attrSK]},
		UpdateExpression:          aws.String("SET " + strings.Join(sets, ", ")),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// Gone meanwhile (a pending row never is; nothing else deletes).
		return false, nil
	}
	return err == nil, err
}
