package dynamo

import (
	"fmt"
	"strings"
)

// Every key of the single table is built here, so the layout can be read in
// one place and changed without hunting through the adapter.

// Attribute names of the table's primary key and of GSI1.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	gsi1Name   = "GSI1"
)

// Entity discriminators stored in the "entity" attribute; the stream
// dispatcher routes on them.
const (
	entityEvent      = "event"
	entityMember     = "member"
	entityApplied    = "applied"
	entityEnrollment = "enrollment"
	entitySend       = "send"
)

// Sort-key prefixes of the items that live under a member's partition.
const (
	skEvent         = "EVENT"
	skProfile       = "PROFILE"
	skAppliedPrefix = "APPLIED#"
	skEnrollPrefix  = "ENROLL#"
	skSendPrefix    = "SEND#"
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
	return "BDAY#" + mmdd, true
}

// memberGSI1SK is the member's sort key inside calendar partitions.
func memberGSI1SK(memberID string) string { return "M#" + memberID }
