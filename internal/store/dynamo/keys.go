package dynamo

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/memberflow/memberflow/internal/loyalty"
)

// Every key of the single table is built here, so the layout can be read in
// one place and changed without hunting through the adapter.

// Attribute names of the table's primary key and of its three indexes:
// GSI1 holds birthdays, the due sweep, member dates and the active
// enrollments of each journey; GSI2 the days of last orders and tier
// reviews and the held enrollments of each journey; GSI3 every member
// profile, by shard.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	gsi1Name   = "GSI1"
	attrGSI2PK = "GSI2PK"
	attrGSI2SK = "GSI2SK"
	gsi2Name   = "GSI2"
	attrGSI3PK = "GSI3PK"
	attrGSI3SK = "GSI3SK"
	gsi3Name   = "GSI3"
)

// Entity discriminators stored in the "entity" attribute; the stream
// dispatcher routes on them.
const (
	entityEvent      = "event"
	entityMember     = "member"
	entityApplied    = "applied"
	entityEnrollment = "enrollment"
	entitySend       = "send"

	entitySendEvent   = "send_event"
	entitySendEventID = "send_event_id"
	entitySendFirst   = "send_first"
	entitySuppression = "suppression"
	entityConversion  = "conversion"
	entityStepStats   = "step_stats"
	entitySentDay     = "sent_day"

	entityAccount       = "account"
	entityLedgerEntry   = "ledger_entry"
	entityLedgerApplied = "ledger_applied"
	entityClaim         = "claim"
	entityCounter       = "counter"
	entityLiability     = "liability"

	entityContact = "contact"

	entityJourneyVersion = "journey_version"
	entityJourneyState   = "journey_state"
	entityJourneyCounted = "journey_counted"
	entityJourneyStats   = "journey_stats"
	entityTimeline       = "timeline"
	entityMemberDate     = "member_date"

	entityMigration = "migration"

	entityAudit    = "audit"
	entityAuditKey = "audit_key"
	entityAuditDay = "audit_day"

	entityAddress = "address_suppression"

	entityAnalyticsPage    = "analytics_page"
	entityAnalyticsModel   = "analytics_model"
	entityAnalyticsLatest  = "analytics_latest"
	entityAnalyticsCurrent = "analytics_current"
)

// Sort-key prefixes of the items that live under a member's partition.
const (
	skEvent         = "EVENT"
	skProfile       = "PROFILE"
	skAppliedPrefix = "APPLIED#"
	skEnrollPrefix  = "ENROLL#"
	skSendPrefix    = "SEND#"

	skSendEventPrefix   = "SENDEVT#"
	skSendEventIDPrefix = "SENDEVTID#"
	skSendFirstPrefix   = "SENDFIRST#"
	skSuppressed        = "SUPPRESSED"
	skConversionPrefix  = "CONV#"

	skAccount             = "ACCOUNT"
	skLedgerPrefix        = "LEDGER#"
	skLedgerAppliedPrefix = "LAPPLIED#"

	skContact = "CONTACT"

	skJourneyCountedPrefix = "JCOUNT#"
	skTimelinePrefix       = "TL#"
	skMemberDatePrefix     = "DATE#"
)

// Sort keys of the single-item partitions outside members: claims,
// counters and liability shards.
const (
	skClaim     = "CLAIM"
	skCounter   = "COUNTER"
	skLiability = "LIAB"
)

// eventPK is the partition of one recorded webhook event; the source is part
// of it because event ids are only unique per source.
func eventPK(source, id string) string { return "EVENT#" + source + "#" + id }

// memberPK is the partition holding everything about one member.
func memberPK(memberID string) string { return "M#" + memberID }

// appliedSK marks that eventID has been applied to the member's projection.
func appliedSK(eventID string) string { return skAppliedPrefix + eventID }

// enrollmentSK zero-pads the number so a member's enrollments in one journey
// sort by number.
func enrollmentSK(journey string, number int) string {
	return fmt.Sprintf("%s%s#%06d", skEnrollPrefix, journey, number)
}

// sendSK is the ledger row of one send, keyed by its idempotency key.
func sendSK(key string) string { return skSendPrefix + key }

// sendEventTimeLayout writes an event's time in UTC with every digit of
// the nanoseconds, so sort keys order by time: RFC3339Nano drops trailing
// zeros, and "…:53Z" would sort after "…:53.5Z".
const sendEventTimeLayout = "2006-01-02T15:04:05.000000000Z"

// sendEventSK files a provider event under its time, then its id, so the
// member's events since a moment are one range of the partition, oldest
// first.
func sendEventSK(at time.Time, id string) string {
	return sendEventSinceSK(at) + "#" + id
}

// sendEventSinceSK is the lowest sort key of events at or after since.
func sendEventSinceSK(since time.Time) string {
	return skSendEventPrefix + since.UTC().Format(sendEventTimeLayout)
}

// sendEventsEndSK sorts after every sendEventSK and before any other
// item of the partition ("SENDEVTID#…" included, as '$' < 'I'): the
// prefix with its '#' raised to '$'.
const sendEventsEndSK = "SENDEVT$"

// sendEventIDSK is the create-only marker that records a provider event
// once per id. The event item cannot be it, because its key holds the
// time, and a redelivery need not carry the same time.
func sendEventIDSK(id string) string { return skSendEventIDPrefix + id }

// sendFirstSK marks that the send had an event of this type: creating it
// is what counts the type in the step's stats once per send. The type is
// last and never holds '#', so the key is unambiguous.
func sendFirstSK(sendKey, eventType string) string {
	return skSendFirstPrefix + sendKey + "#" + eventType
}

// conversionSK marks an order counted as a conversion of a send. The key
// is unambiguous because order ids, the storefront's, hold no '#'.
func conversionSK(orderID, sendKey string) string {
	return skConversionPrefix + orderID + "#" + sendKey
}

// statsPK is the partition of one journey's step statistics: JourneyStats
// reads the whole journey with one query.
func statsPK(journey string) string { return "STATS#" + journey }

// statsSK is one shard of a step's counters. The step name is read from
// the item's "step" attribute, never parsed out of this key.
func statsSK(step string, shard int) string {
	return fmt.Sprintf("%s%s#%d", skStepStatsPrefix, step, shard)
}

// Sort-key prefixes of a stats partition's three kinds of items: the step
// counters, the journey counters and the sends per day. JourneyStats,
// JourneyCounters and JourneySentDays each read one range of the
// partition.
const (
	skStepStatsPrefix    = "STEP#"
	skJourneyStatsPrefix = "JOURNEY#"
	skSentDayPrefix      = "SENTDAY#"
)

// sentDaySK is one shard of a journey's sends on day (YYYY-MM-DD): the
// days sort in order, so a range of days is one range of keys.
func sentDaySK(day string, shard int) string {
	return fmt.Sprintf("%s%s#%d", skSentDayPrefix, day, shard)
}

// journeyStatsSK is one shard of the journey's own counters (CountJourney).
func journeyStatsSK(shard int) string { return fmt.Sprintf("%s%d", skJourneyStatsPrefix, shard) }

// journeyCountedSK is the create-only marker that counts a member's key in
// a journey's counters once.
func journeyCountedSK(key string) string { return skJourneyCountedPrefix + key }

// statsShards is how many items a step's counters are spread over: every
// send, provider event and conversion of the step adds to them, and one
// item would serialise a whole campaign's writes on it.
const statsShards = 8

// statsShard picks a member's shard, stably, like liabilityShard.
func statsShard(memberID string) int { return int(fnv32a(memberID) % statsShards) }

// birthdayGSI1PK returns the calendar-scan partition for a YYYY-MM-DD
// birthday ("BDAY#MMDD"); ok is false when the birthday is unset or not in
// that shape, so such members simply stay out of the birthday index.
func birthdayGSI1PK(birthday string) (pk string, ok bool) {
	if len(birthday) != len("2006-01-02") || birthday[4] != '-' || birthday[7] != '-' {
		return "", false
	}
	mmdd := birthday[5:7] + birthday[8:10]
	if strings.Trim(mmdd, "0123456789") != "" {
		return "", false
	}
	return mmddGSI1PK(mmdd), true
}

// mmddGSI1PK is the birthday partition of one day of the year ("MMDD").
func mmddGSI1PK(mmdd string) string { return "BDAY#" + mmdd }

// memberGSI1SK is the member's sort key inside calendar partitions, of
// GSI1 and GSI2 alike, so every calendar scan pages by member id.
func memberGSI1SK(memberID string) string { return "M#" + memberID }

// utcDay is the UTC date of t: calendar partitions are UTC days, so a
// moment lands in one partition whatever zone it was written in.
func utcDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// lastOrderGSI2PK is the GSI2 partition of members whose newest order was
// at t; members sort inside it by memberGSI1SK.
func lastOrderGSI2PK(t time.Time) string { return lastOrderDayGSI2PK(utcDay(t)) }

// lastOrderDayGSI2PK is the partition of lastOrderGSI2PK for a UTC day
// (YYYY-MM-DD).
func lastOrderDayGSI2PK(day string) string { return "LASTORDER#" + day }

// reviewGSI2PK is the GSI2 partition of accounts whose tier review is at
// t; members sort inside it by memberGSI1SK.
func reviewGSI2PK(t time.Time) string { return reviewDayGSI2PK(utcDay(t)) }

// reviewDayGSI2PK is the partition of reviewGSI2PK for a UTC day
// (YYYY-MM-DD).
func reviewDayGSI2PK(day string) string { return "REVIEW#" + day }

// ledgerSK zero-pads the sequence number so a member's entries sort by it;
// twelve digits outlast any member's ledger.
func ledgerSK(seq int64) string { return fmt.Sprintf("%s%012d", skLedgerPrefix, seq) }

// ledgerAppliedSK marks that cause has been committed to the member's
// ledger. It is not appliedSK: a ledger cause and a projection event are
// applied independently, so their markers must not collide.
func ledgerAppliedSK(cause string) string { return skLedgerAppliedPrefix + cause }

// dueGSI1PK is the GSI1 partition of accounts next due on day (YYYY-MM-DD);
// members sort inside it by memberGSI1SK.
func dueGSI1PK(day string) string { return "DUE#" + day }

// claimPK is the partition of one claim (coupon code, referral code,
// person's trial): one item per key is what makes it exclusive.
func claimPK(key string) string { return "CLAIM#" + key }

// counterPK is the partition of one global counter.
func counterPK(key string) string { return "COUNTER#" + key }

// liabilityShards is how many items the liability counters are spread
// over: every ledger commit adds to them, and one item would serialise all
// commits of the programme on it.
const liabilityShards = 16

// liabilityPK is the partition of one liability shard.
func liabilityPK(shard int) string { return fmt.Sprintf("LIAB#%02d", shard) }

// liabilityShard picks a member's shard; it is stable so one member's
// commits always meet on the same item and the others spread out.
func liabilityShard(memberID string) int { return int(fnv32a(memberID) % liabilityShards) }

// fnv32a hashes a member id for picking shards.
func fnv32a(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// accountGSI2 is an account's place in the review index: its tier review
// day, or none (ok false) for an account without a review.
func accountGSI2(a loyalty.Account) (pk, sk string, ok bool) {
	if a.ReviewAt.IsZero() {
		return "", "", false
	}
	return reviewGSI2PK(a.ReviewAt), memberGSI1SK(a.MemberID), true
}

// journeyPK is the partition of one journey's versions.
func journeyPK(name string) string { return "JOURNEY#" + name }

// skJourneyVersionPrefix begins the sort key of every version.
const skJourneyVersionPrefix = "V#"

// journeyVersionSK zero-pads the version so a journey's versions sort by
// number.
func journeyVersionSK(version int) string {
	return fmt.Sprintf("%s%06d", skJourneyVersionPrefix, version)
}

// journeysPK is the one partition of every journey's state item: there
// are few journeys, and ListJourneys reads them with one query.
const journeysPK = "JOURNEYS"

// journeyStateSK is a journey's state item inside journeysPK: its name,
// which the language keeps to [a-z0-9_].
func journeyStateSK(name string) string { return name }

// activeGSI1PK is the GSI1 partition of a journey's active enrollments
// (held ones included); the item leaves it when the enrollment ends.
func activeGSI1PK(journey string) string { return "JACTIVE#" + journey }

// heldGSI2PK is the GSI2 partition of a journey's held enrollments; the
// item leaves it when released or ended.
func heldGSI2PK(journey string) string { return "JHELD#" + journey }

// enrollmentIndexSK orders a journey's enrollments by member, then number,
// in activeGSI1PK and heldGSI2PK; it is also their listings' cursor.
func enrollmentIndexSK(memberID string, number int) string {
	return fmt.Sprintf("M#%s#%06d", memberID, number)
}

// timelineSK files a decision under its time (the send events' fixed-width
// layout, so keys sort by time), its key and its kind; the kind holds no
// '#' (store.TimelineEntries), so the key is unambiguous. Newest first is
// the partition's range of this prefix read backwards.
func timelineSK(at time.Time, key, kind string) string {
	return skTimelinePrefix + at.UTC().Format(sendEventTimeLayout) + "#" + key + "#" + kind
}

// memberDateSK is the item filing a member under one date attribute.
func memberDateSK(attribute string) string { return skMemberDatePrefix + attribute }

// memberDateGSI1PK is the GSI1 partition of members whose date attribute
// is on day (YYYY-MM-DD); members sort inside it by memberGSI1SK.
func memberDateGSI1PK(attribute, day string) string { return "DATE#" + attribute + "#" + day }

// membersGSI3PK is one shard of the index of every member profile
// (store.MemberShard); members sort inside it by memberGSI1SK.
func membersGSI3PK(shard int) string { return fmt.Sprintf("MEMBERS#%02d", shard) }

// migrationPK is the partition of the table's migration markers; one
// item per completed migration, keyed by migrationSK.
const migrationPK = "META#MIGRATIONS"

// migrationSK is the marker of one migration, e.g. "calendar-index#v1".
func migrationSK(name string) string { return "MIGRATION#" + name }

// auditPK is the partition of one UTC day (YYYY-MM-DD) of the audit log;
// an entry's sort key is its store.AuditID, which starts with its time,
// so a day is one range read oldest first.
func auditPK(day string) string { return "AUDIT#" + day }

// auditKeyPK marks an audit entry's key as appended, so a replayed
// request (same idempotency key) writes no second entry.
func auditKeyPK(key string) string { return "AUDITKEY#" + key }

// Keys of the audit-days index: one item per day that has entries, so a
// listing from a moment long ago reads the days that have some instead of
// every day since.
const (
	auditDaysPK = "AUDITDAYS"
	skAuditKey  = "AUDITKEY"
)

// memberEventsGSI3PK is the GSI3 partition of a member's recorded events
// (their items keep their own EVENT# partition): an export or an erasure
// finds them without a scan. Members sort inside GSI3's MEMBERS#
// partitions, so the two never meet.
func memberEventsGSI3PK(memberID string) string { return "MEVENTS#" + memberID }

// addressPK is the partition of an erased address's hash
// (store.AddressHash); skAddress its one item.
func addressPK(hash string) string { return "ADDRSUP#" + hash }

const skAddress = "ADDRSUP"

// Keys of the analytics refresh. Its pages live in one partition per
// member shard, numbered, each run overwriting the last's; the model
// versions, the latest (the last created, with its run) and the current
// (the last whose scoring completed, a copy) share one partition, read
// once per fit, API call or page scored.
const (
	pkAnalyticsModel   = "ANALYTICS#MODEL"
	skAnalyticsLatest  = "LATEST"
	skAnalyticsCurrent = "CURRENT"
	skAnalyticsPage    = "P#"
)

// analyticsPagesPK is the partition of one shard's pages.
func analyticsPagesPK(shard int) string { return fmt.Sprintf("ANALYTICS#PAGES#%02d", shard) }

// analyticsPageSK zero-pads the number so pages sort by it.
func analyticsPageSK(page int) string { return fmt.Sprintf("%s%08d", skAnalyticsPage, page) }

// analyticsModelSK names one model version, sorting by number.
func analyticsModelSK(version int) string { return fmt.Sprintf("V#%08d", version) }
