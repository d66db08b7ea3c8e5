package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// The journeys' lift counters. One partition per journey, LIFT#<journey>,
// holds its cohorts: an item per cohort cell (arm, split path, enrollment
// day) and stats shard, so a day's busy cohort spreads its writes over
// statsShards items. An item keeps the cohort's members and, for each day
// after enrollment, its outcomes as attributes "<field>@<day>"
// (goals@3, revenue@3 …), added to with ADD. Each count's create-only
// marker, LIFTED#<key> in the member's partition, is written in the same
// transaction, so a repeat of the key adds nothing.

const (
	entityLiftCohort  = "lift_cohort"
	entityLiftCounted = "lift_counted"

	skLiftCohortPrefix  = "COHORT#"
	skLiftCountedPrefix = "LIFTED#"

	attrArm     = "arm"
	attrPath    = "path"
	attrMembers = "members"
	attrLiftDay = "lift_day" // a goal marker's day after enrollment

	// maxLiftCells bounds a count's cells: with its marker they are one
	// transaction.
	maxLiftCells = maxTransactItems - 1
)

// liftPK is the partition of a journey's lift cohorts.
func liftPK(journey string) string { return "LIFT#" + journey }

// liftCohortSK is one shard of one cohort cell: day first, so a range of
// days would be one range of keys.
func liftCohortSK(c store.LiftCell, shard int) string {
	return fmt.Sprintf("%s%s#%s#%s#%d", skLiftCohortPrefix, c.Day, c.Arm, c.Path, shard)
}

// liftCountedSK is the create-only marker of one lift count.
func liftCountedSK(key string) string { return skLiftCountedPrefix + key }

// liftFields are the outcome's counters by attribute name (without the
// "@<day>"), leaving out zeros.
func liftFields(o store.LiftOutcome) map[string]attributevalue.Number {
	out := map[string]attributevalue.Number{}
	ints := map[string]int64{"goals": o.Goals, "orders": o.Orders, "coupons": o.Coupons, "points": o.Points, "boost_points": o.BoostPoints}
	for k, v := range ints {
		if v != 0 {
			out[k] = attributevalue.Number(strconv.FormatInt(v, 10))
		}
	}
	decs := map[string]decimal.Decimal{"revenue": o.Revenue, "coupon_cost": o.CouponCost, "points_cost": o.PointsCost, "boost_cost": o.BoostCost}
	for k, v := range decs {
		if !v.IsZero() {
			out[k] = number(v) // exactly: DynamoDB keeps 38 digits
		}
	}
	return out
}

// liftCellUpdate names the cell on its item and adds members and the
// outcome's fields on day.
func liftCellUpdate(journeyName string, cell store.LiftCell, members int64, day int, o store.LiftOutcome) expression.UpdateBuilder {
	u := expression.Set(expression.Name(attrEntity), expression.Value(entityLiftCohort)).
		Set(expression.Name(attrJourney), expression.Value(journeyName)).
		Set(expression.Name(attrArm), expression.Value(string(cell.Arm))).
		Set(expression.Name(attrPath), expression.Value(cell.Path)).
		Set(expression.Name(attrDay), expression.Value(cell.Day))
	if members != 0 {
		u = u.Add(expression.Name(attrMembers), expression.Value(members))
	}
	fields := liftFields(o)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		// NameNoDotSplit: "revenue@3" is one attribute.
		u = u.Add(expression.NameNoDotSplit(k+"@"+strconv.Itoa(day)), expression.Value(fields[k]))
	}
	return u
}

// liftCountedItem records that a member's key was counted in a journey's
// lift (and, for a goal, on which day after enrollment).
type liftCountedItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	Journey string `dynamodbav:"journey"`
	Key     string `dynamodbav:"key"`
	Day     int    `dynamodbav:"lift_day"`
}

func checkLiftCells(c store.LiftCount) error {
	if err := store.CheckLiftCount(c); err != nil {
		return err
	}
	if len(c.Cells) > maxLiftCells {
		return fmt.Errorf("count lift of %s for %s: %d cells exceed the %d of one transaction", c.Journey, c.Key, len(c.Cells), maxLiftCells)
	}
	return nil
}

// CountLift writes the key's create-only marker and adds the count to
// every cell's shard in one transaction.
func (s *Store) CountLift(ctx context.Context, c store.LiftCount) error {
	if err := checkLiftCells(c); err != nil {
		return err
	}
	what := fmt.Sprintf("count lift of %s for %s", c.Journey, c.Key)
	marker := liftCountedItem{itemKey: itemKey{PK: memberPK(c.MemberID), SK: liftCountedSK(c.Key)},
		Entity: entityLiftCounted, Journey: c.Journey, Key: c.Key, Day: c.Day}
	tx := &writeTx{table: s.table}
	if err := tx.put(roleLiftCounted, -1, marker, notExists()); err != nil {
		return fmt.Errorf("%s: marker: %w", what, err)
	}
	shard := statsShard(c.MemberID)
	for _, cell := range c.Cells {
		if err := tx.update(roleLiftCohort, -1, liftPK(c.Journey), liftCohortSK(cell, shard), liftCellUpdate(c.Journey, cell, c.Members, c.Day, c.Outcome), expression.ConditionBuilder{}); err != nil {
			return fmt.Errorf("%s: cohort: %w", what, err)
		}
	}
	err := retryRaces(ctx, func() (bool, error) {
		err := tx.write(ctx, s.client)
		if codes, ok := cancellationCodes(err); ok && tx.failed(codes, roleLiftCounted) {
			return false, nil // counted before
		}
		return lostOrFailed(err)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CountLiftGoal reads the goal's marker and counts the goal, or moves it
// to an earlier day, in one transaction conditioned on the marker as
// read; a writer that got in between makes it read again.
func (s *Store) CountLiftGoal(ctx context.Context, c store.LiftCount) error {
	if err := checkLiftCells(c); err != nil {
		return err
	}
	what := fmt.Sprintf("count lift goal of %s for %s", c.Journey, c.Key)
	pk, sk := memberPK(c.MemberID), liftCountedSK(c.Key)
	shard := statsShard(c.MemberID)
	err := retryRaces(ctx, func() (bool, error) {
		var old liftCountedItem
		found, err := s.getItem(ctx, pk, sk, &old)
		if err != nil {
			return false, err
		}
		if found && old.Day <= c.Day {
			return false, nil
		}
		tx := &writeTx{table: s.table}
		if !found {
			marker := liftCountedItem{itemKey: itemKey{PK: pk, SK: sk}, Entity: entityLiftCounted, Journey: c.Journey, Key: c.Key, Day: c.Day}
			if err := tx.put(roleLiftCounted, -1, marker, notExists()); err != nil {
				return false, err
			}
		} else {
			move := expression.Set(expression.Name(attrLiftDay), expression.Value(c.Day))
			if err := tx.update(roleLiftCounted, -1, pk, sk, move, expression.Name(attrLiftDay).Equal(expression.Value(old.Day))); err != nil {
				return false, err
			}
		}
		for _, cell := range c.Cells {
			u := liftCellUpdate(c.Journey, cell, 0, c.Day, store.LiftOutcome{Goals: 1})
			if found {
				u = u.Add(expression.NameNoDotSplit("goals@"+strconv.Itoa(old.Day)), expression.Value(-1))
			}
			if err := tx.update(roleLiftCohort, -1, liftPK(c.Journey), liftCohortSK(cell, shard), u, expression.ConditionBuilder{}); err != nil {
				return false, err
			}
		}
		return lostOrFailed(tx.write(ctx, s.client))
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// LiftCohorts reads the journey's lift partition and sums each cell's
// shards.
func (s *Store) LiftCohorts(ctx context.Context, journeyName string) ([]store.LiftCohort, error) {
	items, err := s.queryItems(ctx, expression.KeyAnd(
		expression.Key(attrPK).Equal(expression.Value(liftPK(journeyName))),
		expression.Key(attrSK).BeginsWith(skLiftCohortPrefix),
	))
	if err != nil {
		return nil, fmt.Errorf("lift cohorts of %s: %w", journeyName, err)
	}
	byCell := map[store.LiftCell]*store.LiftCohort{}
	for _, item := range items {
		cell, err := liftCell(item)
		if err != nil {
			return nil, fmt.Errorf("lift cohorts of %s: %w", journeyName, err)
		}
		co := byCell[cell]
		if co == nil {
			co = &store.LiftCohort{LiftCell: cell, Days: map[int]store.LiftOutcome{}}
			byCell[cell] = co
		}
		if err := addLiftItem(co, item); err != nil {
			return nil, fmt.Errorf("lift cohorts of %s %+v: %w", journeyName, cell, err)
		}
	}
	out := make([]store.LiftCohort, 0, len(byCell))
	for _, co := range byCell {
		for d, o := range co.Days {
			if o.IsZero() {
				delete(co.Days, d) // a goal moved to an earlier day leaves a zero
			}
		}
		out = append(out, *co)
	}
	slices.SortFunc(out, func(a, b store.LiftCohort) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Arm, b.Arm), cmp.Compare(a.Path, b.Path))
	})
	return out, nil
}

func liftCell(item map[string]types.AttributeValue) (store.LiftCell, error) {
	str := func(name string) (string, error) {
		v, ok := item[name].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("cohort item has no string %s", name)
		}
		return v.Value, nil
	}
	arm, err := str(attrArm)
	if err != nil {
		return store.LiftCell{}, err
	}
	path, err := str(attrPath)
	if err != nil {
		return store.LiftCell{}, err
	}
	day, err := str(attrDay)
	if err != nil {
		return store.LiftCell{}, err
	}
	return store.LiftCell{Arm: loyalty.Arm(arm), Path: path, Day: day}, nil
}

// addLiftItem adds one shard item's counters to the cohort.
func addLiftItem(co *store.LiftCohort, item map[string]types.AttributeValue) error {
	for name, av := range item {
		field, dayText, ok := strings.Cut(name, "@")
		if !ok && name != attrMembers {
			continue
		}
		n, isNumber := av.(*types.AttributeValueMemberN)
		if !isNumber {
			return fmt.Errorf("counter %s is %T, want a number", name, av)
		}
		if name == attrMembers {
			v, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("counter %s: %w", name, err)
			}
			co.Members += v
			continue
		}
		day, err := strconv.Atoi(dayText)
		if err != nil || day < 0 || day >= store.LiftDays {
			return fmt.Errorf("counter %s: no day after enrollment", name)
		}
		var o store.LiftOutcome
		if err := setLiftField(&o, field, n.Value); err != nil {
			return fmt.Errorf("counter %s: %w", name, err)
		}
		co.Days[day] = co.Days[day].Add(o)
	}
	return nil
}

func setLiftField(o *store.LiftOutcome, field, value string) error {
	ints := map[string]*int64{"goals": &o.Goals, "orders": &o.Orders, "coupons": &o.Coupons, "points": &o.Points, "boost_points": &o.BoostPoints}
	if p, ok := ints[field]; ok {
		v, err := strconv.ParseInt(value, 10, 64)
		*p = v
		return err
	}
	decs := map[string]*decimal.Decimal{"revenue": &o.Revenue, "coupon_cost": &o.CouponCost, "points_cost": &o.PointsCost, "boost_cost": &o.BoostCost}
	if p, ok := decs[field]; ok {
		v, err := decimal.NewFromString(value)
		*p = v
		return err
	}
	return fmt.Errorf("unknown lift field %q", field)
}
