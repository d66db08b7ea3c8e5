package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/shopspring/decimal"
)

// sample returns the committed sample of typ, failing the test if absent.
func sample(t *testing.T, typ Type) []byte {
	t.Helper()
	b, err := Sample(typ)
	if err != nil {
		t.Fatalf("Sample(%s): %v", typ, err)
	}
	return b
}

// parseOne parses body, which must be one valid event.
func parseOne(t *testing.T, body []byte) Envelope {
	t.Helper()
	envs, err := ParseBatch(body)
	if err != nil {
		t.Fatalf("ParseBatch: %v", err)
	}
	if got, want := len(envs), 1; got != want {
		t.Fatalf("len(envs) = %d, want %d", got, want)
	}
	return envs[0]
}

// money parses a decimal literal for comparisons.
func money(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// checkMoney compares amounts by value: 1250.00 and 1250 are the same money
// but not the same decimal.Decimal struct.
func checkMoney(t *testing.T, name string, got decimal.Decimal, want string) {
	t.Helper()
	if !got.Equal(money(want)) {
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

// checkTime compares instants, which may be in different zones.
func checkTime(t *testing.T, name string, got time.Time, want string) {
	t.Helper()
	w, err := time.Parse(time.RFC3339, want)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(w) {
		t.Errorf("%s = %s, want %s", name, got, want)
	}
}

func TestSamplesParseAndDecode(t *testing.T) {
	tests := []struct {
		typ   Type
		id    string
		check func(t *testing.T, data any)
	}{
		{MemberRegistered, "evt-reg-1001", func(t *testing.T, data any) {
			d := data.(*MemberRegisteredData)
			if got, want := d.Email, "lin.wei@example.com"; got != want {
				t.Errorf("Email = %q, want %q", got, want)
			}
			if got, want := d.Name, "Lin Wei"; got != want {
				t.Errorf("Name = %q, want %q", got, want)
			}
			if d.Birthday == nil {
				t.Fatal("Birthday = nil")
			}
			if got, want := *d.Birthday, (Date{Year: 1990, Month: time.June, Day: 15}); got != want {
				t.Errorf("Birthday = %v, want %v", got, want)
			}
			if got, want := d.Timezone, "Asia/Shanghai"; got != want {
				t.Errorf("Timezone = %q, want %q", got, want)
			}
			if got, want := d.Locale, "zh-CN"; got != want {
				t.Errorf("Locale = %q, want %q", got, want)
			}
			if got, want := d.Phone, "+8613800000000"; got != want {
				t.Errorf("Phone = %q, want %q", got, want)
			}
			if got, want := d.Consent.EmailMarketing, true; got != want {
				t.Errorf("Consent.EmailMarketing = %v, want %v", got, want)
			}
		}},
		{MemberProfileUpdated, "evt-prof-1001", func(t *testing.T, data any) {
			d := data.(*MemberProfileUpdatedData)
			if d.Phone == nil || d.Locale == nil || d.Consent == nil {
				t.Fatalf("Phone, Locale, Consent = %v, %v, %v; want all set", d.Phone, d.Locale, d.Consent)
			}
			if got, want := *d.Phone, "+8613900000000"; got != want {
				t.Errorf("Phone = %q, want %q", got, want)
			}
			if got, want := d.Consent.EmailMarketing, false; got != want {
				t.Errorf("Consent.EmailMarketing = %v, want %v", got, want)
			}
			// Absent fields must stay distinguishable from empty ones.
			if d.Email != nil || d.Name != nil || d.Birthday != nil || d.Timezone != nil {
				t.Errorf("fields not sent are set: %+v", d)
			}
		}},
		{MemberUnsubscribed, "evt-unsub-1001", func(t *testing.T, data any) {
			d := data.(*MemberUnsubscribedData)
			if got, want := d.Group, "newsletter"; got != want {
				t.Errorf("Group = %q, want %q", got, want)
			}
			if got, want := d.Reason, "too many emails"; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
		}},
		{OrderPaid, "evt-ord-1001", func(t *testing.T, data any) {
			d := data.(*OrderPaidData)
			if got, want := d.OrderID, "ord-20260302-0042"; got != want {
				t.Errorf("OrderID = %q, want %q", got, want)
			}
			checkMoney(t, "Amount", d.Amount, "1250.00")
			if got, want := d.Currency, "CNY"; got != want {
				t.Errorf("Currency = %q, want %q", got, want)
			}
			if got, want := len(d.Lines), 2; got != want {
				t.Fatalf("len(Lines) = %d, want %d", got, want)
			}
			if got, want := d.Lines[0].SKU, "TEA-OOLONG-250G"; got != want {
				t.Errorf("Lines[0].SKU = %q, want %q", got, want)
			}
			if got, want := d.Lines[0].Quantity, 2; got != want {
				t.Errorf("Lines[0].Quantity = %d, want %d", got, want)
			}
			checkMoney(t, "Lines[1].Amount", d.Lines[1].Amount, "750")
			if got, want := d.CouponCode, "SPRING26"; got != want {
				t.Errorf("CouponCode = %q, want %q", got, want)
			}
			if got, want := len(d.Payments), 1; got != want {
				t.Fatalf("len(Payments) = %d, want %d", got, want)
			}
			if got, want := d.Payments[0].Method, PaymentCard; got != want {
				t.Errorf("Payments[0].Method = %q, want %q", got, want)
			}
			checkMoney(t, "Payments[0].Amount", d.Payments[0].Amount, "1250")
		}},
		{OrderRefunded, "evt-rfd-1001", func(t *testing.T, data any) {
			d := data.(*OrderRefundedData)
			if got, want := d.RefundID, "rfd-20260309-0007"; got != want {
				t.Errorf("RefundID = %q, want %q", got, want)
			}
			checkMoney(t, "Amount", d.Amount, "250.00")
			if got, want := len(d.Lines), 1; got != want {
				t.Errorf("len(Lines) = %d, want %d", got, want)
			}
		}},
		{MemberCheckedIn, "evt-chk-1001", func(t *testing.T, data any) {
			d := data.(*MemberCheckedInData)
			if got, want := d.Location, "Shanghai Jing'an flagship store"; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		}},
		{ReviewPosted, "evt-rev-1001", func(t *testing.T, data any) {
			d := data.(*ReviewPostedData)
			if got, want := d.Rating, 5; got != want {
				t.Errorf("Rating = %d, want %d", got, want)
			}
			if got, want := d.ProductSKU, "TEA-OOLONG-250G"; got != want {
				t.Errorf("ProductSKU = %q, want %q", got, want)
			}
		}},
		{ContentShared, "evt-share-1001", func(t *testing.T, data any) {
			d := data.(*ContentSharedData)
			if got, want := d.ContentID, "guide-spring-oolong"; got != want {
				t.Errorf("ContentID = %q, want %q", got, want)
			}
			if got, want := d.Channel, "wechat"; got != want {
				t.Errorf("Channel = %q, want %q", got, want)
			}
		}},
		{SubscriptionTrialStarted, "evt-trial-1001", func(t *testing.T, data any) {
			d := data.(*SubscriptionTrialStartedData)
			if got, want := d.Plan, "tea-club-monthly"; got != want {
				t.Errorf("Plan = %q, want %q", got, want)
			}
			checkMoney(t, "Price", d.Price, "99")
			checkTime(t, "TrialEndsAt", d.TrialEndsAt, "2026-04-15T01:00:00Z")
		}},
		{SubscriptionConverted, "evt-conv-1001", func(t *testing.T, data any) {
			d := data.(*SubscriptionConvertedData)
			if got, want := d.SubscriptionID, "sub-7001"; got != want {
				t.Errorf("SubscriptionID = %q, want %q", got, want)
			}
			checkMoney(t, "Price", d.Price, "99.00")
			checkTime(t, "PeriodEndsAt", d.PeriodEndsAt, "2026-05-15T09:00:00+08:00")
		}},
		{SubscriptionRenewed, "evt-renew-1001", func(t *testing.T, data any) {
			d := data.(*SubscriptionRenewedData)
			checkMoney(t, "Price", d.Price, "99.00")
			checkTime(t, "PeriodEndsAt", d.PeriodEndsAt, "2026-06-15T09:00:00+08:00")
		}},
		{SubscriptionCancelled, "evt-cancel-1001", func(t *testing.T, data any) {
			d := data.(*SubscriptionCancelledData)
			if got, want := d.Reason, "moving abroad"; got != want {
				t.Errorf("Reason = %q, want %q", got, want)
			}
			if d.EffectiveAt == nil {
				t.Fatal("EffectiveAt = nil")
			}
			checkTime(t, "EffectiveAt", *d.EffectiveAt, "2026-06-15T09:00:00+08:00")
		}},
		{WalletToppedUp, "evt-topup-1001", func(t *testing.T, data any) {
			d := data.(*WalletToppedUpData)
			if got, want := d.TopupID, "top-30012"; got != want {
				t.Errorf("TopupID = %q, want %q", got, want)
			}
			checkMoney(t, "Amount", d.Amount, "500")
			if got, want := d.Currency, "CNY"; got != want {
				t.Errorf("Currency = %q, want %q", got, want)
			}
		}},
	}
	if got, want := len(tests), len(Types()); got != want {
		t.Fatalf("%d sample cases for %d types", got, want)
	}
	for _, tc := range tests {
		t.Run(string(tc.typ), func(t *testing.T) {
			body := sample(t, tc.typ)
			env := parseOne(t, body)
			if got, want := env.Type, tc.typ; got != want {
				t.Errorf("Type = %q, want %q", got, want)
			}
			if got, want := env.ID, tc.id; got != want {
				t.Errorf("ID = %q, want %q", got, want)
			}
			if got, want := env.MemberID, "m-1001"; got != want {
				t.Errorf("MemberID = %q, want %q", got, want)
			}
			if got, want := env.Version, 1; got != want {
				t.Errorf("Version = %d, want %d", got, want)
			}
			if got, want := env.OccurredAt.Year(), 2026; got != want {
				t.Errorf("OccurredAt.Year() = %d, want %d", got, want)
			}
			if got, want := string(env.Raw), string(bytes.TrimSpace(body)); got != want {
				t.Errorf("Raw = %s, want the sample's bytes", got)
			}
			data, err := env.DecodeData()
			if err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			tc.check(t, data)
		})
	}
}

func TestSampleIDsAreDistinct(t *testing.T) {
	seen := map[string]Type{}
	for _, typ := range Types() {
		env := parseOne(t, sample(t, typ))
		if other, dup := seen[env.ID]; dup {
			t.Errorf("samples %s and %s share id %q", other, typ, env.ID)
		}
		seen[env.ID] = typ
	}
}

// dirFiles lists the file names under dir of fsys.
func dirFiles(t *testing.T, fsys fs.FS, dir string) []string {
	t.Helper()
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func TestEveryTypeHasSchemaAndSampleAndNothingElse(t *testing.T) {
	wantSchemas := []string{envelopeFile}
	var wantSamples []string
	for _, typ := range Types() {
		wantSchemas = append(wantSchemas, schemaFile(typ))
		wantSamples = append(wantSamples, schemaFile(typ))
	}
	slices.Sort(wantSchemas)
	if got, want := strings.Join(dirFiles(t, schemaFiles, "schemas"), " "), strings.Join(wantSchemas, " "); got != want {
		t.Errorf("schemas/ holds\n%s\nwant\n%s", got, want)
	}
	if got, want := strings.Join(dirFiles(t, sampleFiles, "samples"), " "), strings.Join(wantSamples, " "); got != want {
		t.Errorf("samples/ holds\n%s\nwant\n%s", got, want)
	}
	for _, typ := range Types() {
		if _, ok := newData[typ]; !ok {
			t.Errorf("%s has no data struct", typ)
		}
	}
}

// readSchema parses an embedded schema file.
func readSchema(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := schemaFiles.ReadFile("schemas/" + name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s is not a JSON object", name)
	}
	return m
}

func TestSchemasAreValid(t *testing.T) {
	// Check each file against the draft 2020-12 meta-schema explicitly,
	// then that they all compile together.
	c := jsonschema.NewCompiler()
	meta, err := c.Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatalf("compile meta-schema: %v", err)
	}
	for _, name := range dirFiles(t, schemaFiles, "schemas") {
		doc := readSchema(t, name)
		if err := meta.Validate(any(doc)); err != nil {
			t.Errorf("%s breaks the meta-schema: %v", name, err)
		}
		if got, want := doc["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
			t.Errorf("%s: $schema = %v, want %v", name, got, want)
		}
		if got, want := doc["$id"], schemaBase+name; got != want {
			t.Errorf("%s: $id = %v, want %v", name, got, want)
		}
	}
	reg, err := compileRegistry()
	if err != nil {
		t.Fatalf("compileRegistry: %v", err)
	}
	for _, typ := range Types() {
		if reg.byType[typ] == nil {
			t.Errorf("no compiled schema for %s", typ)
		}
	}
}

func TestSchemasAgreeWithTypes(t *testing.T) {
	// The envelope's enum is what callers see in "must be one of"; it
	// must list exactly the types this package knows, in order.
	env := readSchema(t, envelopeFile)
	enum := env["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	var names []string
	for _, v := range enum {
		names = append(names, v.(string))
	}
	if got, want := strings.Join(names, ","), typeList(); got != strings.ReplaceAll(want, ", ", ",") {
		t.Errorf("envelope type enum = %s, want %s", got, want)
	}
	for _, typ := range Types() {
		doc := readSchema(t, schemaFile(typ))
		props, _ := doc["properties"].(map[string]any)
		typeProp, _ := props["type"].(map[string]any)
		if got, want := typeProp["const"], string(typ); got != want {
			t.Errorf("%s: properties.type.const = %v, want %v", schemaFile(typ), got, want)
		}
		if got, want := doc["$ref"], envelopeFile; got != want {
			t.Errorf("%s: $ref = %v, want %v", schemaFile(typ), got, want)
		}
	}
}

func TestTypes(t *testing.T) {
	ts := Types()
	if got, want := len(ts), 13; got != want {
		t.Errorf("len(Types()) = %d, want %d", got, want)
	}
	if !slices.IsSorted(ts) {
		t.Errorf("Types() is not sorted: %v", ts)
	}
	ts[0] = "mutated"
	if got, want := Types()[0], ContentShared; got != want {
		t.Errorf("Types()[0] = %q after mutating a returned slice, want %q", got, want)
	}
	for _, typ := range Types() {
		got, err := ParseType(string(typ))
		if err != nil {
			t.Errorf("ParseType(%q): %v", typ, err)
		}
		if got != typ {
			t.Errorf("ParseType(%q) = %q", typ, got)
		}
	}
	for _, s := range []string{"", "order.shipped", "ORDER.PAID", " order.paid"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("ParseType(%q) succeeded", s)
		} else if !strings.Contains(err.Error(), "must be one of: content.shared") {
			t.Errorf("ParseType(%q) error %q does not list the types", s, err)
		}
	}
	if _, err := Sample("order.shipped"); err == nil {
		t.Error(`Sample("order.shipped") succeeded`)
	}
}

func TestDate(t *testing.T) {
	tests := []struct {
		in      string
		want    Date
		wantErr bool
	}{
		{in: `"1990-06-15"`, want: Date{1990, time.June, 15}},
		{in: `"2024-02-29"`, want: Date{2024, time.February, 29}},
		{in: `"1990-02-30"`, wantErr: true},
		{in: `"2023-02-29"`, wantErr: true},
		{in: `"1990-6-15"`, wantErr: true},
		{in: `"1990-06-15T00:00:00Z"`, wantErr: true},
	}
	for _, tc := range tests {
		var d Date
		err := json.Unmarshal([]byte(tc.in), &d)
		if got, want := err != nil, tc.wantErr; got != want {
			t.Errorf("Unmarshal(%s) error = %v, want error %v", tc.in, err, want)
			continue
		}
		if tc.wantErr {
			continue
		}
		if got, want := d, tc.want; got != want {
			t.Errorf("Unmarshal(%s) = %v, want %v", tc.in, got, want)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(out), tc.in; got != want {
			t.Errorf("Marshal(%v) = %s, want %s", d, got, want)
		}
	}
	if got, want := (Date{2026, time.March, 1}).String(), "2026-03-01"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDecodeDataOfStoredPayload(t *testing.T) {
	// The dispatcher decodes stored Raw bytes with encoding/json, where an
	// omitted "version" comes back as 0.
	var m map[string]any
	if err := json.Unmarshal(sample(t, OrderPaid), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "version")
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	parsed := parseOne(t, body)
	if got, want := parsed.Version, 1; got != want {
		t.Errorf("ParseBatch Version = %d, want %d", got, want)
	}
	var stored Envelope
	if err := json.Unmarshal(parsed.Raw, &stored); err != nil {
		t.Fatal(err)
	}
	data, err := stored.DecodeData()
	if err != nil {
		t.Fatalf("DecodeData: %v", err)
	}
	if got, want := data.(*OrderPaidData).OrderID, "ord-20260302-0042"; got != want {
		t.Errorf("OrderID = %q, want %q", got, want)
	}
}

func TestDecodeDataErrors(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
		want string
	}{
		{"unknown type", Envelope{ID: "e", Type: "order.shipped", Data: json.RawMessage(`{}`)}, "unknown type"},
		{"future version", Envelope{ID: "e", Version: 2, Type: ContentShared, Data: json.RawMessage(`{"content_id":"c"}`)}, "version 2"},
		{"no data", Envelope{ID: "e", Type: ContentShared}, "no data"},
		{"unknown field", Envelope{ID: "e", Type: ContentShared, Data: json.RawMessage(`{"content_id":"c","chanel":"x"}`)}, "chanel"},
		{"wrong shape", Envelope{ID: "e", Type: ReviewPosted, Data: json.RawMessage(`{"rating":"5"}`)}, "rating"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.env.DecodeData()
			if err == nil {
				t.Fatal("DecodeData succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			var ve *ValidationError
			if errors.As(err, &ve) {
				t.Errorf("DecodeData returned a *ValidationError; those are for callers' input")
			}
		})
	}
}
