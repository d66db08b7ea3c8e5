package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

func birthdayMember(i int) string { return fmt.Sprintf("m-cost-bd-%03d", i) }
func tierMember(i int) string     { return fmt.Sprintf("m-cost-tier-%03d", i) }
func winbackMember(i int) string  { return fmt.Sprintf("m-cost-wb-%03d", i) }

// seedWorkers is how many members are seeded at once.
const seedWorkers = 8

// seed gives each calendar journey seeded members whose step is due now,
// all with consent, in a zone where the step's 10:00 has passed today:
//   - birthday: registered 40 days ago (a birthday set fewer than 30 days
//     before gets no gift) with today's birthday;
//   - tier expiry: V2 from an order about two years ago, kept at the first
//     anniversary review by a second order, with nothing since, so the
//     second review in 30 days would demote them: the d30 warning is due;
//   - win-back: last order 60 days ago: the d60 step is due.
func (r *runner) seed(ctx context.Context) error {
	local := r.now.In(r.loc)
	// 1992 is a leap year: 29 February is a valid birthday too.
	today := fmt.Sprintf("1992-%02d-%02d", local.Month(), local.Day())
	firstOrder, review, err := r.tierOrderTime()
	if err != nil {
		return err
	}
	jobs := make(chan func() error)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for range seedWorkers {
		wg.Go(func() {
			for job := range jobs {
				if err := job(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range seeded {
		bd, tm, wm := birthdayMember(i), tierMember(i), winbackMember(i)
		jobs <- func() error {
			return r.apply(ctx, registration(bd, r.now.AddDate(0, 0, -40), true, r.zone, today))
		}
		jobs <- func() error {
			err := r.apply(ctx,
				registration(tm, firstOrder.AddDate(0, 0, -10), true, r.zone, ""),
				orderPaid(tm, "ord-"+tm+"-1", "200.00", firstOrder),
				orderPaid(tm, "ord-"+tm+"-2", "200.00", firstOrder.AddDate(0, 0, 180)))
			if err != nil {
				return err
			}
			// Persist the first anniversary review (kept V2), as the hourly
			// ledger sweep would have a year ago: the review index then
			// holds the next one.
			_, err = r.s.Activities.Ledger.Sweep(ctx, tm)
			return err
		}
		jobs <- func() error {
			return r.apply(ctx,
				registration(wm, r.now.AddDate(0, 0, -90), true, r.zone, ""),
				orderPaid(wm, "ord-"+wm, "120.00", r.now.AddDate(0, 0, -60)))
		}
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// The tier members must be due, or the tier_expiry scan measures
	// nobody: their review is the one the seed aimed at.
	doc, err := r.s.Activities.Ledger.Document(ctx, tierMember(0), time.Now())
	if err != nil {
		return fmt.Errorf("read seeded %s: %w", tierMember(0), err)
	}
	if doc.TierReviewOn == nil || *doc.TierReviewOn != review || doc.Tier != "V2" {
		got := "none"
		if doc.TierReviewOn != nil {
			got = *doc.TierReviewOn
		}
		return fmt.Errorf("seeded %s is %s with its review on %s, want V2 reviewed on %s", tierMember(0), doc.Tier, got, review)
	}
	return nil
}

// tierOrderTime is when a tier member's first order (the upgrade to V2)
// was placed, and the review day it leads to: the day whose second
// anniversary review, 30 days from now, puts the d30 warning in the last
// 23 hours. The review day is the programme's calendar day of the
// anniversary; tier_expiry reads it in the member's zone, so the warning
// is 10:00 member-local time 30 days before that day.
func (r *runner) tierOrderTime() (time.Time, string, error) {
	for days := 690; days <= 760; days++ {
		t := r.now.AddDate(0, 0, -days)
		y, m, d := r.prog.StartOfDay(t).AddDate(2, 0, 0).Date()
		d30 := time.Date(y, m, d-30, 10, 0, 0, 0, r.loc)
		if d30.After(r.now.Add(-23*time.Hour)) && !d30.After(r.now.Add(-time.Minute)) {
			return t, time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly), nil
		}
	}
	return time.Time{}, "", errors.New("no order day puts a tier review's d30 warning in the last 23 hours")
}
