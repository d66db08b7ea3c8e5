package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// GetAccount reads a member's account.
func (s *Store) GetAccount(ctx context.Context, memberID string) (loyalty.Account, error) {
	var it accountItem
	found, err := s.getItem(ctx, memberPK(memberID), skAccount, &it)
	if err != nil {
		return loyalty.Account{}, fmt.Errorf("get account %s: %w", memberID, err)
	}
	if !found {
		return loyalty.Account{}, fmt.Errorf("get account %s: %w", memberID, store.ErrNotFound)
	}
	a, err := it.account()
	if err != nil {
		return loyalty.Account{}, fmt.Errorf("get account %s: %w", memberID, err)
	}
	return a, nil
}

// CommitLedger writes every change in one TransactWriteItems. Conditions
// rather than reads guard every rule, so a commit never rests on a value
// that changed after it was read: the account's version, the balances'
// floor at zero, the cause marker, the entries, claims and counters.
func (s *Store) CommitLedger(ctx context.Context, changes ...store.LedgerChange) error {
	if len(changes) == 0 {
		return nil
	}
	if err := store.CheckCommitLedger(changes); err != nil {
		return err
	}
	what := "commit ledger of " + memberIDs(changes)
	claims, err := mergeClaims(changes)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	counters, err := mergeCounters(changes)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	shards := mergeLiability(changes)

	tx := &writeTx{table: s.table}
	for i, c := range changes {
		if err := tx.account(i, c); err != nil {
			return fmt.Errorf("%s: account %s: %w", what, c.Account.MemberID, err)
		}
		if c.Cause != "" {
			marker := ledgerAppliedItem{
				itemKey: itemKey{PK: memberPK(c.Account.MemberID), SK: ledgerAppliedSK(c.Cause)},
				Entity:  entityLedgerApplied,
				Cause:   c.Cause,
				Version: c.Account.Version,
				Kind:    string(c.Record.Kind),
				At:      c.Record.At,
				Params:  string(c.Record.Params),
			}
			if err := tx.put(roleMarker, i, marker, notExists()); err != nil {
				return fmt.Errorf("%s: marker %s: %w", what, c.Cause, err)
			}
		}
		for _, e := range c.Entries {
			it, err := newLedgerEntryItem(e)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			if err := tx.put(roleEntry, i, it, notExists()); err != nil {
				return fmt.Errorf("%s: entry %d: %w", what, e.Seq, err)
			}
		}
	}
	for _, cl := range claims {
		cond := notExists().Or(expression.Name(attrOwner).Equal(expression.Value(cl.Owner)))
		it := claimItem{itemKey: itemKey{PK: claimPK(cl.Key), SK: skClaim}, Entity: entityClaim, Key: cl.Key, Owner: cl.Owner}
		if err := tx.put(roleClaim, -1, it, cond); err != nil {
			return fmt.Errorf("%s: claim %s: %w", what, cl.Key, err)
		}
	}
	for _, ct := range counters {
		update := expression.Add(expression.Name(attrCount), expression.Value(ct.n)).
			Set(expression.Name(attrEntity), expression.Value(entityCounter)).
			Set(expression.Name(attrKey), expression.Value(ct.key))
		cond := expression.Name(attrCount).AttributeNotExists().
			Or(expression.Name(attrCount).LessThanEqual(expression.Value(ct.limit - ct.n)))
		if err := tx.update(roleCounter, -1, counterPK(ct.key), skCounter, update, cond); err != nil {
			return fmt.Errorf("%s: counter %s: %w", what, ct.key, err)
		}
	}
	for _, shard := range slices.Sorted(maps.Keys(shards)) {
		update := expression.Set(expression.Name(attrEntity), expression.Value(entityLiability))
		for _, k := range slices.Sorted(maps.Keys(shards[shard])) {
			// NameNoDotSplit: a key is one attribute, whatever it contains.
			update = update.Add(expression.NameNoDotSplit(k), expression.Value(number(shards[shard][k])))
		}
		if err := tx.update(roleLiability, -1, liabilityPK(shard), skLiability, update, expression.ConditionBuilder{}); err != nil {
			return fmt.Errorf("%s: liability shard %d: %w", what, shard, err)
		}
	}
	err = tx.write(ctx, s.client)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, s.ledgerCancellation(ctx, tx, changes, err))
}

// account adds the update of change i's account: the state and version
// set, the balances moved by the entries' sums, and the due and review
// indexes moved.
func (tx *writeTx) account(i int, c store.LedgerChange) error {
	a := c.Account
	state, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("marshal state: %w", err)
	}
	d := loyalty.SumEntries(c.Entries)
	update := expression.Set(expression.Name(attrEntity), expression.Value(entityAccount)).
		Set(expression.Name(attrMemberID), expression.Value(a.MemberID)).
		Set(expression.Name(attrState), expression.Value(string(state))).
		Set(expression.Name(attrVersion), expression.Value(a.Version)).
		// Adding zero too makes every balance exist from the first commit.
		Add(expression.Name(attrPointsPending), expression.Value(d.Pending)).
		Add(expression.Name(attrPointsAvailable), expression.Value(d.Available)).
		Add(expression.Name(attrSVPrincipal), expression.Value(number(d.Principal))).
		Add(expression.Name(attrSVBonus), expression.Value(number(d.Bonus)))
	if c.NextDue != "" {
		update = update.Set(expression.Name(attrGSI1PK), expression.Value(dueGSI1PK(c.NextDue))).
			Set(expression.Name(attrGSI1SK), expression.Value(memberGSI1SK(a.MemberID)))
	} else {
		update = update.Remove(expression.Name(attrGSI1PK)).Remove(expression.Name(attrGSI1SK))
	}
	if pk, sk, ok := accountGSI2(a); ok {
		update = update.Set(expression.Name(attrGSI2PK), expression.Value(pk)).
			Set(expression.Name(attrGSI2SK), expression.Value(sk))
	} else {
		update = update.Remove(expression.Name(attrGSI2PK)).Remove(expression.Name(attrGSI2SK))
	}

	cond := notExists()
	if a.Version > 1 {
		cond = expression.Name(attrVersion).Equal(expression.Value(a.Version - 1))
	}
	// A balance that does not exist yet fails the comparison, so a new
	// account cannot start below zero either.
	atLeast := func(attr string, n any) {
		cond = cond.And(expression.Name(attr).GreaterThanEqual(expression.Value(n)))
	}
	if d.Pending < 0 {
		atLeast(attrPointsPending, -d.Pending)
	}
	if d.Available < 0 {
		atLeast(attrPointsAvailable, -d.Available)
	}
	if d.Principal.IsNegative() {
		atLeast(attrSVPrincipal, number(d.Principal.Neg()))
	}
	if d.Bonus.IsNegative() {
		atLeast(attrSVBonus, number(d.Bonus.Neg()))
	}
	return tx.update(roleAccount, i, memberPK(a.MemberID), skAccount, update, cond)
}

// ledgerCancellation turns a failed ledger transaction into the port's
// error. A replayed cause wins, as in SaveMember, so the caller stops; then
// a lost race, so the caller re-reads before deciding anything else; then
// the rule that refused the change. Any other failure is returned as is.
func (s *Store) ledgerCancellation(ctx context.Context, tx *writeTx, changes []store.LedgerChange, err error) error {
	codes, ok := cancellationCodes(err)
	if !ok || len(codes) != len(tx.items) {
		return err
	}
	var duplicate, conflict, claimed, limit bool
	var accounts []int // changes whose account condition failed
	for i, code := range codes {
		if code == reasonTransactionConflict {
			conflict = true
		}
		if code != reasonConditionFailed {
			continue
		}
		switch tx.roles[i] {
		case roleMarker:
			duplicate = true
		case roleAccount:
			accounts = append(accounts, tx.changes[i])
		case roleEntry:
			// The version condition normally catches this first; an entry
			// that exists under a matching version was written by someone
			// else, which only a re-read can sort out.
			conflict = true
		case roleClaim:
			claimed = true
		case roleCounter:
			limit = true
		}
	}
	if duplicate {
		return store.ErrDuplicate
	}
	negative := false
	for _, i := range accounts {
		// The account's condition is version AND floors; the stored
		// version tells which part failed. Versions only grow, so a
		// mismatch seen now was a mismatch then, and a match means the
		// floors failed (or a newer write has landed since, which the
		// caller's re-read and retry handles the same way).
		a := changes[i].Account
		stored, rerr := s.accountVersion(ctx, a.MemberID)
		switch {
		case rerr != nil:
			return fmt.Errorf("read account %s after a failed condition: %w (transaction: %w)", a.MemberID, rerr, err)
		case stored != a.Version-1:
			conflict = true
		default:
			negative = true
		}
	}
	switch {
	case conflict:
		return store.ErrConflict
	case negative:
		return store.ErrNegative
	case claimed:
		return store.ErrClaimed
	case limit:
		return store.ErrLimit
	}
	return err
}

// accountVersion is the stored version of a member's account, 0 for none.
func (s *Store) accountVersion(ctx context.Context, memberID string) (int64, error) {
	var it accountItem
	found, err := s.getItem(ctx, memberPK(memberID), skAccount, &it)
	if err != nil || !found {
		return 0, err
	}
	return it.Version, nil
}

// ListEntries reads the member's entries newest first. The range is
// bounded on both sides, because below "LEDGER#" sort other items of the
// member's partition (ACCOUNT, APPLIED#, ENROLL#, LAPPLIED#).
func (s *Store) ListEntries(ctx context.Context, memberID string, limit int, before int64) ([]loyalty.Entry, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list entries of %s: limit %d, want at least 1", memberID, limit)
	}
	skCond := expression.Key(attrSK).BeginsWith(skLedgerPrefix)
	if before > 0 {
		skCond = expression.Key(attrSK).Between(expression.Value(ledgerSK(0)), expression.Value(ledgerSK(before-1)))
	}
	keyCond := expression.KeyAnd(expression.Key(attrPK).Equal(expression.Value(memberPK(memberID))), skCond)
	items, err := queryLimit[ledgerEntryItem](ctx, s, keyCond, limit, func(in *dynamodb.QueryInput) {
		in.ScanIndexForward = aws.Bool(false)
		in.ConsistentRead = aws.Bool(true)
	})
	if err != nil {
		return nil, fmt.Errorf("list entries of %s: %w", memberID, err)
	}
	out := make([]loyalty.Entry, len(items))
	for i, it := range items {
		if out[i], err = it.entry(); err != nil {
			return nil, fmt.Errorf("list entries of %s: %w", memberID, err)
		}
	}
	return out, nil
}

// DueAccounts reads the due index. GSI1 is eventually consistent, so an
// account committed a moment ago may be missing; the sweep runs again.
func (s *Store) DueAccounts(ctx context.Context, day string, after string, limit int) ([]string, error) {
	if day == "" || limit < 1 {
		return nil, fmt.Errorf("due accounts on %q: a day and a limit of at least 1 are required", day)
	}
	items, err := calendarPage[accountItem](ctx, s, gsi1Name, attrGSI1PK, attrGSI1SK, dueGSI1PK(day), after, limit)
	if err != nil {
		return nil, fmt.Errorf("due accounts on %s: %w", day, err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.MemberID
	}
	return out, nil
}

// queryLimit reads up to limit items matching keyCond, following pages
// because a page ends at 1 MB whatever the limit.
func queryLimit[T any](ctx context.Context, s *Store, keyCond expression.KeyConditionBuilder, limit int, opt func(*dynamodb.QueryInput)) ([]T, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	opt(in)
	var out []T
	for {
		in.Limit = aws.Int32(int32(min(limit-len(out), 1000)))
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		var items []T
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, err
		}
		out = append(out, items...)
		if len(out) >= limit || len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// ClaimOwner reads who holds a claim.
func (s *Store) ClaimOwner(ctx context.Context, key string) (string, error) {
	var it claimItem
	found, err := s.getItem(ctx, claimPK(key), skClaim, &it)
	if err != nil {
		return "", fmt.Errorf("claim owner of %s: %w", key, err)
	}
	if !found {
		return "", fmt.Errorf("claim owner of %s: %w", key, store.ErrNotFound)
	}
	return it.Owner, nil
}

// LiabilityCounters reads every shard in one strongly consistent batch and
// sums them.
func (s *Store) LiabilityCounters(ctx context.Context) (map[string]decimal.Decimal, error) {
	keys := make([]map[string]types.AttributeValue, liabilityShards)
	for i := range keys {
		k, err := marshalKey(liabilityPK(i), skLiability)
		if err != nil {
			return nil, fmt.Errorf("liability counters: marshal key: %w", err)
		}
		keys[i] = k
	}
	req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
	out := map[string]decimal.Decimal{}
	for len(req) > 0 {
		got, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, fmt.Errorf("liability counters: %w", err)
		}
		for _, item := range got.Responses[s.table] {
			if err := addLiability(out, item); err != nil {
				return nil, fmt.Errorf("liability counters: %w", err)
			}
		}
		// Unprocessed keys are throttled ones; the SDK's retryer has
		// already backed off, so asking again at once is fine.
		req = got.UnprocessedKeys
	}
	return out, nil
}

// addLiability adds one shard's counters to sums.
func addLiability(sums map[string]decimal.Decimal, item map[string]types.AttributeValue) error {
	for name, av := range item {
		if name == attrPK || name == attrSK || name == attrEntity {
			continue
		}
		n, ok := av.(*types.AttributeValueMemberN)
		if !ok {
			return fmt.Errorf("counter %s is %T, want a number", name, av)
		}
		d, err := decimal.NewFromString(n.Value)
		if err != nil {
			return fmt.Errorf("counter %s: %w", name, err)
		}
		sums[name] = sums[name].Add(d)
	}
	return nil
}

// memberIDs names the members of a commit for error messages.
func memberIDs(changes []store.LedgerChange) string {
	ids := make([]string, len(changes))
	for i, c := range changes {
		ids[i] = c.Account.MemberID
	}
	return strings.Join(ids, ",")
}

// mergeClaims returns each claimed key once, in key order: one transaction
// may not touch the claim item twice. Two owners for one key in the same
// commit is ErrClaimed, as the second would be refused anyway.
func mergeClaims(changes []store.LedgerChange) ([]loyalty.Claim, error) {
	owners := map[string]string{}
	for _, c := range changes {
		for _, cl := range c.Claims {
			if o, ok := owners[cl.Key]; ok && o != cl.Owner {
				return nil, fmt.Errorf("claim %s by %s and %s: %w", cl.Key, o, cl.Owner, store.ErrClaimed)
			}
			owners[cl.Key] = cl.Owner
		}
	}
	out := make([]loyalty.Claim, 0, len(owners))
	for _, k := range slices.Sorted(maps.Keys(owners)) {
		out = append(out, loyalty.Claim{Key: k, Owner: owners[k]})
	}
	return out, nil
}

// counterUse is one counter's increments in a commit, under the tightest
// limit any of them carries.
type counterUse struct {
	key      string
	n, limit int
}

// mergeCounters returns each counter once, in key order. A commit that
// alone passes a limit is ErrLimit without asking the database.
func mergeCounters(changes []store.LedgerChange) ([]counterUse, error) {
	uses := map[string]counterUse{}
	for _, c := range changes {
		for _, ct := range c.Counters {
			u, ok := uses[ct.Key]
			if !ok {
				u = counterUse{key: ct.Key, limit: ct.Limit}
			}
			u.n++
			u.limit = min(u.limit, ct.Limit)
			uses[ct.Key] = u
		}
	}
	out := make([]counterUse, 0, len(uses))
	for _, u := range uses {
		if u.n > u.limit {
			return nil, fmt.Errorf("counter %s: %d more would pass %d: %w", u.key, u.n, u.limit, store.ErrLimit)
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b counterUse) int { return cmp.Compare(a.key, b.key) })
	return out, nil
}

// mergeLiability sums the commit's liability deltas per shard, leaving out
// what adds up to zero, so each shard item is touched at most once and
// only when something changes.
func mergeLiability(changes []store.LedgerChange) map[int]map[string]decimal.Decimal {
	shards := map[int]map[string]decimal.Decimal{}
	for _, c := range changes {
		shard := liabilityShard(c.Account.MemberID)
		for k, d := range c.Liability {
			if shards[shard] == nil {
				shards[shard] = map[string]decimal.Decimal{}
			}
			shards[shard][k] = shards[shard][k].Add(d)
		}
	}
	for shard, sums := range shards {
		maps.DeleteFunc(sums, func(_ string, d decimal.Decimal) bool { return d.IsZero() })
		if len(sums) == 0 {
			delete(shards, shard)
		}
	}
	return shards
}

// CauseApplied reads the cause's applied marker.
func (s *Store) CauseApplied(ctx context.Context, memberID, cause string) (bool, error) {
	var it ledgerAppliedItem
	found, err := s.getItem(ctx, memberPK(memberID), ledgerAppliedSK(cause), &it)
	if err != nil {
		return false, fmt.Errorf("read applied marker %s of %s: %w", cause, memberID, err)
	}
	return found, nil
}

// AppliedRecord reads the cause's applied marker and its journal record.
func (s *Store) AppliedRecord(ctx context.Context, memberID, cause string) (loyalty.Recorded, error) {
	var it ledgerAppliedItem
	found, err := s.getItem(ctx, memberPK(memberID), ledgerAppliedSK(cause), &it)
	if err != nil {
		return loyalty.Recorded{}, fmt.Errorf("read applied record %s of %s: %w", cause, memberID, err)
	}
	if !found {
		return loyalty.Recorded{}, fmt.Errorf("read applied record %s of %s: %w", cause, memberID, store.ErrNotFound)
	}
	return it.record(), nil
}

// Journal reads every applied marker of the member: one strongly
// consistent Query over the LAPPLIED# range, page by page.
func (s *Store) Journal(ctx context.Context, memberID string) ([]loyalty.Recorded, error) {
	keyCond := expression.KeyAnd(expression.Key(attrPK).Equal(expression.Value(memberPK(memberID))),
		expression.Key(attrSK).BeginsWith(skLedgerAppliedPrefix))
	items, err := queryLimit[ledgerAppliedItem](ctx, s, keyCond, math.MaxInt, func(in *dynamodb.QueryInput) {
		in.ConsistentRead = aws.Bool(true)
	})
	if err != nil {
		return nil, fmt.Errorf("read journal of %s: %w", memberID, err)
	}
	out := make([]loyalty.Recorded, len(items))
	for i, it := range items {
		out[i] = it.record()
	}
	return out, nil
}
