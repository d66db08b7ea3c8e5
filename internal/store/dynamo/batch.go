package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// SendContext reads the member's profile, the send's enrollment, the
// suppression and the contact state with one BatchGetItem.
func (s *Store) SendContext(ctx context.Context, memberID, journey string, enrollment int) (store.SendContext, error) {
	pk := memberPK(memberID)
	profile, enroll := itemKey{PK: pk, SK: skProfile}, itemKey{PK: pk, SK: enrollmentSK(journey, enrollment)}
	suppressed, contactKey := itemKey{PK: pk, SK: skSuppressed}, itemKey{PK: pk, SK: skContact}
	items, err := s.batchGet(ctx, []itemKey{profile, enroll, suppressed, contactKey})
	if err != nil {
		return store.SendContext{}, fmt.Errorf("send context of %s: %w", memberID, err)
	}
	var sc store.SendContext
	var m memberItem
	switch found, err := unmarshalFound(items, profile, &m); {
	case err != nil:
		return store.SendContext{}, fmt.Errorf("send context of %s: member: %w", memberID, err)
	case !found:
		return store.SendContext{}, fmt.Errorf("send context of %s: member: %w", memberID, store.ErrNotFound)
	}
	sc.Member = m.member()
	var e enrollmentItem
	if found, err := unmarshalFound(items, enroll, &e); err != nil {
		return store.SendContext{}, fmt.Errorf("send context of %s: enrollment: %w", memberID, err)
	} else if found {
		enr := e.enrollment()
		sc.Enrollment = &enr
	}
	var sup suppressionItem
	if found, err := unmarshalFound(items, suppressed, &sup); err != nil {
		return store.SendContext{}, fmt.Errorf("send context of %s: suppression: %w", memberID, err)
	} else if found {
		v := sup.suppression()
		sc.Suppression = &v
	} else if sc.Suppression, err = s.addressSuppression(ctx, memberID, sc.Member.Email); err != nil {
		return store.SendContext{}, fmt.Errorf("send context of %s: address suppression: %w", memberID, err)
	}
	var c contactItem
	if found, err := unmarshalFound(items, contactKey, &c); err != nil {
		return store.SendContext{}, fmt.Errorf("send context of %s: contact state: %w", memberID, err)
	} else if found {
		if sc.Contact, err = c.state(); err != nil {
			return store.SendContext{}, fmt.Errorf("send context of %s: %w", memberID, err)
		}
		sc.ContactVersion = c.Version
	}
	return sc, nil
}

// MemberAndAccount reads the member's profile and account with one
// BatchGetItem.
func (s *Store) MemberAndAccount(ctx context.Context, memberID string) (loyalty.Member, loyalty.Account, error) {
	pk := memberPK(memberID)
	profile, account := itemKey{PK: pk, SK: skProfile}, itemKey{PK: pk, SK: skAccount}
	items, err := s.batchGet(ctx, []itemKey{profile, account})
	if err != nil {
		return loyalty.Member{}, loyalty.Account{}, fmt.Errorf("member and account %s: %w", memberID, err)
	}
	m, a := loyalty.Member{ID: memberID}, loyalty.Account{MemberID: memberID}
	var mi memberItem
	if found, err := unmarshalFound(items, profile, &mi); err != nil {
		return loyalty.Member{}, loyalty.Account{}, fmt.Errorf("member and account %s: member: %w", memberID, err)
	} else if found {
		m = mi.member()
	}
	var ai accountItem
	if found, err := unmarshalFound(items, account, &ai); err != nil {
		return loyalty.Member{}, loyalty.Account{}, fmt.Errorf("member and account %s: account: %w", memberID, err)
	} else if found {
		if a, err = ai.account(); err != nil {
			return loyalty.Member{}, loyalty.Account{}, fmt.Errorf("member and account %s: %w", memberID, err)
		}
	}
	return m, a, nil
}

// unmarshalFound unmarshals the item at k of a batchGet's result into out;
// found is false when there was none.
func unmarshalFound(items map[itemKey]map[string]types.AttributeValue, k itemKey, out any) (found bool, err error) {
	item, ok := items[k]
	if !ok {
		return false, nil
	}
	return true, attributevalue.UnmarshalMap(item, out)
}

// BatchGetItem may leave keys unprocessed (throttling, a response over
// 16 MB); they are asked for again after a growing, jittered pause, at
// most unprocessedRounds times, as AWS advises.
const (
	unprocessedRounds  = 8
	unprocessedBackoff = 20 * time.Millisecond
)

// batchGet reads the items at keys (at most 100, distinct) strongly
// consistently, as getItem does, in one BatchGetItem, and returns those
// that exist by key.
func (s *Store) batchGet(ctx context.Context, keys []itemKey) (map[itemKey]map[string]types.AttributeValue, error) {
	req := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		av, err := marshalKey(k.PK, k.SK)
		if err != nil {
			return nil, err
		}
		req[i] = av
	}
	pending := map[string]types.KeysAndAttributes{s.table: {Keys: req, ConsistentRead: aws.Bool(true)}}
	out := make(map[itemKey]map[string]types.AttributeValue, len(keys))
	pause := unprocessedBackoff
	for round := 1; ; round++ {
		got, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, err
		}
		for _, item := range got.Responses[s.table] {
			var k itemKey
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return nil, fmt.Errorf("read the key of an item: %w", err)
			}
			out[k] = item
		}
		left := len(got.UnprocessedKeys[s.table].Keys)
		if left == 0 {
			return out, nil
		}
		if round == unprocessedRounds {
			return nil, fmt.Errorf("%d of %d keys still unprocessed after %d rounds", left, len(keys), round)
		}
		pending = got.UnprocessedKeys
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause + rand.N(pause)):
		}
		pause *= 2
	}
}
