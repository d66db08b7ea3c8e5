package dynamo

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/shopspring/decimal"

	"github.com/memberflow/memberflow/internal/contact"
	"github.com/memberflow/memberflow/internal/loyalty"
	"github.com/memberflow/memberflow/internal/store"
)

// The item structs below are the persisted shape of each entity. They are
// kept apart from the domain types so a renamed Go field never silently
// renames a stored attribute, and so keys and discriminators stay out of the
// domain.

// itemKey is the primary key of any item.
type itemKey struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

// eventItem is one recorded webhook event. The stream dispatcher reads the
// "entity" and "payload" attributes of its NewImage, so those names are part
// of the contract with functions/dispatch.
type eventItem struct {
	itemKey
	// GSI3PK/GSI3SK file the event in its member's event index
	// (memberEventsGSI3PK); events without a member stay out of it.
	GSI3PK     string    `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK     string    `dynamodbav:"GSI3SK,omitempty"`
	Entity     string    `dynamodbav:"entity"`
	Source     string    `dynamodbav:"source"`
	EventID    string    `dynamodbav:"event_id"`
	Type       string    `dynamodbav:"type"`
	MemberID   string    `dynamodbav:"member_id,omitempty"`
	OccurredAt time.Time `dynamodbav:"occurred_at,omitempty"`
	ReceivedAt time.Time `dynamodbav:"received_at,omitempty"`
	// Payload is a String, not Binary, so the stream image carries readable
	// JSON and the dispatcher needs no base64 step.
	Payload string `dynamodbav:"payload"`
	// Digest tells a retry from another event reusing the id; items
	// written before digests existed have none.
	Digest string `dynamodbav:"digest,omitempty"`
	// DeliveryID is the sender's delivery id (store.RecordedEvent).
	DeliveryID string `dynamodbav:"delivery_id,omitempty"`
}

func newEventItem(ev store.RecordedEvent) eventItem {
	var gsi3pk, gsi3sk string
	if ev.MemberID != "" {
		gsi3pk, gsi3sk = memberEventsGSI3PK(ev.MemberID), eventPK(ev.Source, ev.ID)
	}
	return eventItem{
		GSI3PK:     gsi3pk,
		GSI3SK:     gsi3sk,
		itemKey:    itemKey{PK: eventPK(ev.Source, ev.ID), SK: skEvent},
		Entity:     entityEvent,
		Source:     ev.Source,
		EventID:    ev.ID,
		Type:       ev.Type,
		MemberID:   ev.MemberID,
		OccurredAt: ev.OccurredAt,
		ReceivedAt: ev.ReceivedAt,
		Payload:    string(ev.Payload),
		Digest:     ev.Digest,
		DeliveryID: ev.DeliveryID,
	}
}

func (it eventItem) recordedEvent() store.RecordedEvent {
	return store.RecordedEvent{
		Source:     it.Source,
		ID:         it.EventID,
		Type:       it.Type,
		MemberID:   it.MemberID,
		OccurredAt: it.OccurredAt,
		ReceivedAt: it.ReceivedAt,
		Payload:    json.RawMessage(it.Payload),
		Digest:     it.Digest,
		DeliveryID: it.DeliveryID,
	}
}

// memberItem is a member's projection. Consent is flattened so later issues
// can update single attributes without rewriting a nested map.
type memberItem struct {
	itemKey
	// GSI1PK/GSI1SK place members with a birthday in the calendar index;
	// omitempty keeps members without one out of it.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	// GSI2PK/GSI2SK place members who ordered in the index of last-order
	// days; omitempty keeps members without an order out of it.
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	// GSI3PK/GSI3SK place every profile in one shard of the member index
	// broadcasts page through.
	GSI3PK string `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK string `dynamodbav:"GSI3SK,omitempty"`
	Entity string `dynamodbav:"entity"`

	ID                    string    `dynamodbav:"id"`
	Email                 string    `dynamodbav:"email,omitempty"`
	Name                  string    `dynamodbav:"name,omitempty"`
	Phone                 string    `dynamodbav:"phone,omitempty"`
	Birthday              string    `dynamodbav:"birthday,omitempty"`
	BirthdaySetAt         time.Time `dynamodbav:"birthday_set_at,omitempty"`
	Timezone              string    `dynamodbav:"timezone,omitempty"`
	Locale                string    `dynamodbav:"locale,omitempty"`
	ReferralCode          string    `dynamodbav:"referral_code,omitempty"`
	ConsentEmailMarketing bool      `dynamodbav:"consent_email_marketing"`
	ConsentUpdatedAt      time.Time `dynamodbav:"consent_updated_at,omitempty"`
	// ConsentUnsubscribedGroups is a list, not a string set, so the
	// member's order of groups survives.
	ConsentUnsubscribedGroups []string  `dynamodbav:"consent_unsubscribed_groups,omitempty"`
	RegisteredAt              time.Time `dynamodbav:"registered_at,omitempty"`
	LastOrderAt               time.Time `dynamodbav:"last_order_at,omitempty"`
	OrderCount                int       `dynamodbav:"order_count"`
	UpdatedAt                 time.Time `dynamodbav:"updated_at,omitempty"`
	// Attributes are JSON: journeys own their shape and nothing queries
	// inside them.
	Attributes jsonObject `dynamodbav:"attributes,omitempty"`
	// Tags is a list, not a string set, so the order they were added in
	// survives.
	Tags []string `dynamodbav:"tags,omitempty"`
	// ErasedAt is the erased mark (loyalty.Member.ErasedAt), which
	// EraseMember sets and every later SaveMember carries on.
	ErasedAt time.Time `dynamodbav:"erased_at,omitempty"`
	// Scores are the analytics refresh's (SetMemberScores), a map with
	// the model version it is keyed by at scores.analytics.model_version.
	Scores  *scoresAttr `dynamodbav:"scores,omitempty"`
	Version int64       `dynamodbav:"version"`
}

func newMemberItem(m loyalty.Member) memberItem {
	it := memberItem{
		itemKey:                   itemKey{PK: memberPK(m.ID), SK: skProfile},
		Entity:                    entityMember,
		ID:                        m.ID,
		Email:                     m.Email,
		Name:                      m.Name,
		Phone:                     m.Phone,
		Birthday:                  m.Birthday,
		BirthdaySetAt:             m.BirthdaySetAt,
		Timezone:                  m.Timezone,
		Locale:                    m.Locale,
		ReferralCode:              m.ReferralCode,
		ConsentEmailMarketing:     m.Consent.EmailMarketing,
		ConsentUpdatedAt:          m.Consent.UpdatedAt,
		ConsentUnsubscribedGroups: m.Consent.UnsubscribedGroups,
		RegisteredAt:              m.RegisteredAt,
		LastOrderAt:               m.LastOrderAt,
		OrderCount:                m.OrderCount,
		UpdatedAt:                 m.UpdatedAt,
		Tags:                      m.Tags,
		ErasedAt:                  m.ErasedAt,
		Scores:                    newScoresAttr(m.Scores),
		Version:                   m.Version,
		GSI3PK:                    membersGSI3PK(store.MemberShard(m.ID)),
		GSI3SK:                    memberGSI1SK(m.ID),
	}
	if len(m.Attributes) > 0 {
		it.Attributes = m.Attributes
	}
	if pk, ok := birthdayGSI1PK(m.Birthday); ok {
		it.GSI1PK, it.GSI1SK = pk, memberGSI1SK(m.ID)
	}
	if !m.LastOrderAt.IsZero() {
		it.GSI2PK, it.GSI2SK = lastOrderGSI2PK(m.LastOrderAt), memberGSI1SK(m.ID)
	}
	return it
}

func (it memberItem) member() loyalty.Member {
	return loyalty.Member{
		ID:            it.ID,
		Email:         it.Email,
		Name:          it.Name,
		Phone:         it.Phone,
		Birthday:      it.Birthday,
		BirthdaySetAt: it.BirthdaySetAt,
		Timezone:      it.Timezone,
		Locale:        it.Locale,
		ReferralCode:  it.ReferralCode,
		Consent: loyalty.Consent{
			EmailMarketing:     it.ConsentEmailMarketing,
			UpdatedAt:          it.ConsentUpdatedAt,
			UnsubscribedGroups: it.ConsentUnsubscribedGroups,
		},
		RegisteredAt: it.RegisteredAt,
		LastOrderAt:  it.LastOrderAt,
		OrderCount:   it.OrderCount,
		UpdatedAt:    it.UpdatedAt,
		Attributes:   it.Attributes,
		Tags:         it.Tags,
		ErasedAt:     it.ErasedAt,
		Scores:       it.Scores.scores(),
		Version:      it.Version,
	}
}

// jsonObject is stored as its JSON, a String: the values of member
// attributes and of timeline decisions are the callers' JSON values, and
// JSON reads them back as the in-memory store does (numbers as float64).
type jsonObject map[string]any

// MarshalDynamoDBAttributeValue writes the object as JSON.
func (o jsonObject) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		return nil, fmt.Errorf("marshal JSON object: %w", err)
	}
	return &types.AttributeValueMemberS{Value: string(b)}, nil
}

// UnmarshalDynamoDBAttributeValue reads the object from JSON.
func (o *jsonObject) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("JSON object stored as %T, want a String", av)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.Value), &m); err != nil {
		return fmt.Errorf("unmarshal JSON object: %w", err)
	}
	*o = m
	return nil
}

// appliedItem marks one event as applied to a member's projection; it is the
// idempotency key that makes SaveMember exactly-once per event.
type appliedItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	EventID string `dynamodbav:"event_id"`
	// Version is the projection version the event produced, kept so an
	// operator can line markers up with profile history.
	Version int64 `dynamodbav:"version"`
}

// enrollmentItem is one member's pass through one journey.
type enrollmentItem struct {
	itemKey
	// GSI1PK/GSI1SK list the enrollment among its journey's active ones
	// while it is active; GSI2PK/GSI2SK among the held ones while held.
	// Enrollments written before the index have neither and still read.
	GSI1PK     string    `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK     string    `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK     string    `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK     string    `dynamodbav:"GSI2SK,omitempty"`
	Entity     string    `dynamodbav:"entity"`
	MemberID   string    `dynamodbav:"member_id"`
	Journey    string    `dynamodbav:"journey"`
	Number     int       `dynamodbav:"number"`
	WorkflowID string    `dynamodbav:"workflow_id"`
	Status     string    `dynamodbav:"status"`
	Reason     string    `dynamodbav:"reason,omitempty"`
	StartedAt  time.Time `dynamodbav:"started_at,omitempty"`
	EndedAt    time.Time `dynamodbav:"ended_at,omitempty"`
	Definition string    `dynamodbav:"definition,omitempty"`
	Version    int       `dynamodbav:"version,omitempty"`
	// Listen is a list, not a string set, which may not be empty.
	Listen []string  `dynamodbav:"listen,omitempty"`
	Held   bool      `dynamodbav:"held,omitempty"`
	Anchor time.Time `dynamodbav:"anchor,omitempty"`
	Step   string    `dynamodbav:"step,omitempty"`
	Arm    string    `dynamodbav:"arm,omitempty"`
}

// Attribute names of the enrollment item that update expressions name;
// enrollmentItem's tags must spell them the same.
const (
	attrHeld    = "held"
	attrListen  = "listen"
	attrEndedAt = "ended_at"
)

func newEnrollmentItem(e loyalty.Enrollment) enrollmentItem {
	it := enrollmentItem{
		itemKey:    itemKey{PK: memberPK(e.MemberID), SK: enrollmentSK(e.Journey, e.Number)},
		Entity:     entityEnrollment,
		MemberID:   e.MemberID,
		Journey:    e.Journey,
		Number:     e.Number,
		WorkflowID: e.WorkflowID,
		Status:     string(e.Status),
		Reason:     e.Reason,
		StartedAt:  e.StartedAt,
		EndedAt:    e.EndedAt,
		Definition: e.Definition,
		Version:    e.Version,
		Listen:     e.Listen,
		Held:       e.Held,
		Anchor:     e.Anchor,
		Step:       e.Step,
		Arm:        string(e.Arm),
	}
	if e.Status == loyalty.EnrollmentActive {
		it.GSI1PK, it.GSI1SK = activeGSI1PK(e.Journey), enrollmentIndexSK(e.MemberID, e.Number)
		if e.Held {
			it.GSI2PK, it.GSI2SK = heldGSI2PK(e.Journey), enrollmentIndexSK(e.MemberID, e.Number)
		}
	}
	return it
}

func (it enrollmentItem) enrollment() loyalty.Enrollment {
	return loyalty.Enrollment{
		MemberID:   it.MemberID,
		Journey:    it.Journey,
		Number:     it.Number,
		WorkflowID: it.WorkflowID,
		Status:     loyalty.EnrollmentStatus(it.Status),
		Reason:     it.Reason,
		StartedAt:  it.StartedAt,
		EndedAt:    it.EndedAt,
		Definition: it.Definition,
		Version:    it.Version,
		Listen:     it.Listen,
		Held:       it.Held,
		Anchor:     it.Anchor,
		Step:       it.Step,
		Arm:        loyalty.Arm(it.Arm),
	}
}

// sendItem is the ledger row of one email send.
type sendItem struct {
	itemKey
	Entity     string    `dynamodbav:"entity"`
	Key        string    `dynamodbav:"key"`
	MemberID   string    `dynamodbav:"member_id"`
	Journey    string    `dynamodbav:"journey,omitempty"`
	Enrollment int       `dynamodbav:"enrollment"`
	Step       string    `dynamodbav:"step,omitempty"`
	Template   string    `dynamodbav:"template,omitempty"`
	Status     string    `dynamodbav:"status"`
	MessageID  string    `dynamodbav:"message_id,omitempty"`
	Reason     string    `dynamodbav:"reason,omitempty"`
	CreatedAt  time.Time `dynamodbav:"created_at,omitempty"`
	UpdatedAt  time.Time `dynamodbav:"updated_at,omitempty"`
	// AttemptedAt is also set by an update expression, as attrAttemptedAt.
	AttemptedAt time.Time `dynamodbav:"attempted_at,omitempty"`
}

func newSendItem(s store.Send) sendItem {
	return sendItem{
		itemKey:     itemKey{PK: memberPK(s.MemberID), SK: sendSK(s.Key)},
		Entity:      entitySend,
		Key:         s.Key,
		MemberID:    s.MemberID,
		Journey:     s.Journey,
		Enrollment:  s.Enrollment,
		Step:        s.Step,
		Template:    s.Template,
		Status:      string(s.Status),
		MessageID:   s.MessageID,
		Reason:      s.Reason,
		CreatedAt:   s.CreatedAt,
		UpdatedAt:   s.UpdatedAt,
		AttemptedAt: s.AttemptedAt,
	}
}

func (it sendItem) send() store.Send {
	return store.Send{
		Key:         it.Key,
		MemberID:    it.MemberID,
		Journey:     it.Journey,
		Enrollment:  it.Enrollment,
		Step:        it.Step,
		Template:    it.Template,
		Status:      store.SendStatus(it.Status),
		MessageID:   it.MessageID,
		Reason:      it.Reason,
		CreatedAt:   it.CreatedAt,
		UpdatedAt:   it.UpdatedAt,
		AttemptedAt: it.AttemptedAt,
	}
}

// Attribute names of the send row that update expressions and conditions
// name; sendItem's tags must spell them the same.
const (
	attrStatus      = "status"
	attrMessageID   = "message_id"
	attrReason      = "reason"
	attrUpdatedAt   = "updated_at"
	attrAttemptedAt = "attempted_at"
)

// sendEventItem is one provider event of a send.
type sendEventItem struct {
	itemKey
	Entity     string    `dynamodbav:"entity"`
	EventID    string    `dynamodbav:"event_id"`
	MemberID   string    `dynamodbav:"member_id"`
	SendKey    string    `dynamodbav:"send_key"`
	Journey    string    `dynamodbav:"journey"`
	Step       string    `dynamodbav:"step"`
	Enrollment int       `dynamodbav:"enrollment"`
	Type       string    `dynamodbav:"type"`
	At         time.Time `dynamodbav:"at,omitempty"`
	MessageID  string    `dynamodbav:"message_id,omitempty"`
	Reason     string    `dynamodbav:"reason,omitempty"`
	URL        string    `dynamodbav:"url,omitempty"`
	Group      int       `dynamodbav:"group,omitempty"`
}

func newSendEventItem(ev store.SendEvent) sendEventItem {
	return sendEventItem{
		itemKey:    itemKey{PK: memberPK(ev.MemberID), SK: sendEventSK(ev.At, ev.ID)},
		Entity:     entitySendEvent,
		EventID:    ev.ID,
		MemberID:   ev.MemberID,
		SendKey:    ev.SendKey,
		Journey:    ev.Journey,
		Step:       ev.Step,
		Enrollment: ev.Enrollment,
		Type:       ev.Type,
		At:         ev.At,
		MessageID:  ev.MessageID,
		Reason:     ev.Reason,
		URL:        ev.URL,
		Group:      ev.Group,
	}
}

func (it sendEventItem) sendEvent() store.SendEvent {
	return store.SendEvent{
		ID:         it.EventID,
		MemberID:   it.MemberID,
		SendKey:    it.SendKey,
		Journey:    it.Journey,
		Step:       it.Step,
		Enrollment: it.Enrollment,
		Type:       it.Type,
		At:         it.At,
		MessageID:  it.MessageID,
		Reason:     it.Reason,
		URL:        it.URL,
		Group:      it.Group,
	}
}

// sendEventIDItem records that a provider event id was stored; SK names
// the event item, so an operator can go from one to the other.
type sendEventIDItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	EventID string `dynamodbav:"event_id"`
	EventSK string `dynamodbav:"event_sk"`
}

// sendFirstItem records the first event of a type for a send, the one
// that was counted in the step's stats.
type sendFirstItem struct {
	itemKey
	Entity  string `dynamodbav:"entity"`
	SendKey string `dynamodbav:"send_key"`
	Type    string `dynamodbav:"type"`
	EventID string `dynamodbav:"event_id"`
}

// suppressionItem puts a member on the suppression list.
type suppressionItem struct {
	itemKey
	Entity   string    `dynamodbav:"entity"`
	MemberID string    `dynamodbav:"member_id"`
	Reason   string    `dynamodbav:"reason"`
	Source   string    `dynamodbav:"source"`
	At       time.Time `dynamodbav:"at,omitempty"`
}

func newSuppressionItem(s store.Suppression) suppressionItem {
	return suppressionItem{
		itemKey:  itemKey{PK: memberPK(s.MemberID), SK: skSuppressed},
		Entity:   entitySuppression,
		MemberID: s.MemberID,
		Reason:   s.Reason,
		Source:   s.Source,
		At:       s.At,
	}
}

func (it suppressionItem) suppression() store.Suppression {
	return store.Suppression{MemberID: it.MemberID, Reason: it.Reason, Source: it.Source, At: it.At}
}

// conversionItem records an order counted as a conversion of a send,
// with the event that attributed it.
type conversionItem struct {
	itemKey
	Entity     string    `dynamodbav:"entity"`
	MemberID   string    `dynamodbav:"member_id"`
	OrderID    string    `dynamodbav:"order_id"`
	SendKey    string    `dynamodbav:"send_key"`
	Journey    string    `dynamodbav:"journey"`
	Step       string    `dynamodbav:"step"`
	Enrollment int       `dynamodbav:"enrollment"`
	EventID    string    `dynamodbav:"event_id,omitempty"`
	At         time.Time `dynamodbav:"at,omitempty"`
}

// Attribute names of a step stats shard besides its counters, which are
// named by their stats keys. No stats key can be one of these: the event
// types are a closed list and the other keys are "sent", "conversion" and
// "skipped:…".
const (
	attrJourney = "journey"
	attrStep    = "step"
	// attrDay is a sent-per-day shard's day; its count is "sent".
	attrDay = "day"
)

// Attribute names of the account item. It is written only by an update
// expression (ledger.go), which names its attributes with these constants;
// accountItem's tags must spell them the same.
const (
	attrEntity          = "entity"
	attrMemberID        = "member_id"
	attrState           = "state"
	attrVersion         = "version"
	attrPointsPending   = "points_pending"
	attrPointsAvailable = "points_available"
	attrSVPrincipal     = "sv_principal"
	attrSVBonus         = "sv_bonus"
)

// Attribute names of claim and counter items used in conditions.
const (
	attrKey   = "key"
	attrOwner = "owner"
	attrCount = "n"
)

// accountItem is a member's loyalty account. The account itself is one JSON
// string, because the rules own its shape and nothing queries inside it;
// the balances sit beside it as numbers so conditions can keep them at or
// above zero, which a JSON string cannot.
type accountItem struct {
	itemKey
	// GSI1PK/GSI1SK place the account in the due index on its NextDue day.
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	// GSI2PK/GSI2SK place the account in the review index on the UTC day
	// of its ReviewAt.
	GSI2PK          string                `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK          string                `dynamodbav:"GSI2SK,omitempty"`
	Entity          string                `dynamodbav:"entity"`
	MemberID        string                `dynamodbav:"member_id"`
	State           string                `dynamodbav:"state"`
	Version         int64                 `dynamodbav:"version"`
	PointsPending   int64                 `dynamodbav:"points_pending"`
	PointsAvailable int64                 `dynamodbav:"points_available"`
	SVPrincipal     attributevalue.Number `dynamodbav:"sv_principal"`
	SVBonus         attributevalue.Number `dynamodbav:"sv_bonus"`
}

func (it accountItem) account() (loyalty.Account, error) {
	var a loyalty.Account
	if err := json.Unmarshal([]byte(it.State), &a); err != nil {
		return loyalty.Account{}, fmt.Errorf("unmarshal account state: %w", err)
	}
	return a, nil
}

// number writes a decimal as a DynamoDB number from its exact decimal
// string; going through float64 would round money.
func number(d decimal.Decimal) attributevalue.Number { return attributevalue.Number(d.String()) }

// ledgerEntryItem is one ledger entry, kept as the JSON the rules produced.
type ledgerEntryItem struct {
	itemKey
	Entity   string `dynamodbav:"entity"`
	MemberID string `dynamodbav:"member_id"`
	Seq      int64  `dynamodbav:"seq"`
	Key      string `dynamodbav:"key"`
	Entry    string `dynamodbav:"entry"`
}

func newLedgerEntryItem(e loyalty.Entry) (ledgerEntryItem, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return ledgerEntryItem{}, fmt.Errorf("marshal entry %d: %w", e.Seq, err)
	}
	return ledgerEntryItem{
		itemKey:  itemKey{PK: memberPK(e.MemberID), SK: ledgerSK(e.Seq)},
		Entity:   entityLedgerEntry,
		MemberID: e.MemberID,
		Seq:      e.Seq,
		Key:      e.Key,
		Entry:    string(b),
	}, nil
}

func (it ledgerEntryItem) entry() (loyalty.Entry, error) {
	var e loyalty.Entry
	if err := json.Unmarshal([]byte(it.Entry), &e); err != nil {
		return loyalty.Entry{}, fmt.Errorf("unmarshal entry %s: %w", it.SK, err)
	}
	return e, nil
}

// ledgerAppliedItem marks one cause as committed to a member's ledger.
type ledgerAppliedItem struct {
	itemKey
	Entity string `dynamodbav:"entity"`
	Cause  string `dynamodbav:"cause"`
	// Version is the account version the cause produced.
	Version int64 `dynamodbav:"version"`
	// Kind, At and Params are the cause's journal record (loyalty.Recorded);
	// markers written before the journal existed have none of them. Params
	// is a String so it reads as JSON in the console and in stream images.
	Kind   string    `dynamodbav:"kind,omitempty"`
	At     time.Time `dynamodbav:"at,omitempty"`
	Params string    `dynamodbav:"params,omitempty"`
}

// record is the marker's journal record.
func (it ledgerAppliedItem) record() loyalty.Recorded {
	rec := loyalty.Recorded{Cause: it.Cause, Kind: loyalty.InputKind(it.Kind), At: it.At}
	if it.Params != "" {
		rec.Params = json.RawMessage(it.Params)
	}
	return rec
}

// claimItem says who holds a claim key.
type claimItem struct {
	itemKey
	Entity string `dynamodbav:"entity"`
	Key    string `dynamodbav:"key"`
	Owner  string `dynamodbav:"owner"`
}

// contactItem is a member's contact-policy state, kept as JSON like the
// account: the policy owns its shape and nothing queries inside it. The
// version beside it is what PutContact's condition compares.
type contactItem struct {
	itemKey
	Entity   string `dynamodbav:"entity"`
	MemberID string `dynamodbav:"member_id"`
	State    string `dynamodbav:"state"`
	Version  int64  `dynamodbav:"version"`
}

func newContactItem(memberID string, st contact.State, version int64) (contactItem, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return contactItem{}, fmt.Errorf("marshal contact state: %w", err)
	}
	return contactItem{
		itemKey:  itemKey{PK: memberPK(memberID), SK: skContact},
		Entity:   entityContact,
		MemberID: memberID,
		State:    string(b),
		Version:  version,
	}, nil
}

func (it contactItem) state() (contact.State, error) {
	var st contact.State
	if err := json.Unmarshal([]byte(it.State), &st); err != nil {
		return contact.State{}, fmt.Errorf("unmarshal contact state: %w", err)
	}
	return st, nil
}
