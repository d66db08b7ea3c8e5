package streams

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestToLambdaValue(t *testing.T) {
	tests := []struct {
		name string
		in   types.AttributeValue
		want lambdaevents.DynamoDBAttributeValue
	}{
		{"S", &types.AttributeValueMemberS{Value: "hello"}, lambdaevents.NewStringAttribute("hello")},
		{"empty S", &types.AttributeValueMemberS{Value: ""}, lambdaevents.NewStringAttribute("")},
		{"N", &types.AttributeValueMemberN{Value: "-12.50"}, lambdaevents.NewNumberAttribute("-12.50")},
		{"B", &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}}, lambdaevents.NewBinaryAttribute([]byte{0, 1, 0xff})},
		{"BOOL true", &types.AttributeValueMemberBOOL{Value: true}, lambdaevents.NewBooleanAttribute(true)},
		{"BOOL false", &types.AttributeValueMemberBOOL{Value: false}, lambdaevents.NewBooleanAttribute(false)},
		{"NULL", &types.AttributeValueMemberNULL{Value: true}, lambdaevents.NewNullAttribute()},
		{"SS", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, lambdaevents.NewStringSetAttribute([]string{"a", "b"})},
		{"NS", &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, lambdaevents.NewNumberSetAttribute([]string{"1", "2.5"})},
		{"BS", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, lambdaevents.NewBinarySetAttribute([][]byte{{1}, {2, 3}})},
		{"empty L", &types.AttributeValueMemberL{Value: []types.AttributeValue{}}, lambdaevents.NewListAttribute([]lambdaevents.DynamoDBAttributeValue{})},
		{"empty M", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}, lambdaevents.NewMapAttribute(map[string]lambdaevents.DynamoDBAttributeValue{})},
		{
			"L of every scalar",
			&types.AttributeValueMemberL{Value: []types.AttributeValue{
				&types.AttributeValueMemberS{Value: "x"},
				&types.AttributeValueMemberN{Value: "7"},
				&types.AttributeValueMemberBOOL{Value: true},
				&types.AttributeValueMemberNULL{Value: true},
				&types.AttributeValueMemberB{Value: []byte("b")},
			}},
			lambdaevents.NewListAttribute([]lambdaevents.DynamoDBAttributeValue{
				lambdaevents.NewStringAttribute("x"),
				lambdaevents.NewNumberAttribute("7"),
				lambdaevents.NewBooleanAttribute(true),
				lambdaevents.NewNullAttribute(),
				lambdaevents.NewBinaryAttribute([]byte("b")),
			}),
		},
		{
			"nested M and L",
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"name": &types.AttributeValueMemberS{Value: "Ada"},
				"tags": &types.AttributeValueMemberSS{Value: []string{"vip"}},
				"history": &types.AttributeValueMemberL{Value: []types.AttributeValue{
					&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
						"points": &types.AttributeValueMemberN{Value: "10"},
						"deep":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNS{Value: []string{"3"}}}},
					}},
					&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
				}},
				"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
			}},
			lambdaevents.NewMapAttribute(map[string]lambdaevents.DynamoDBAttributeValue{
				"name": lambdaevents.NewStringAttribute("Ada"),
				"tags": lambdaevents.NewStringSetAttribute([]string{"vip"}),
				"history": lambdaevents.NewListAttribute([]lambdaevents.DynamoDBAttributeValue{
					lambdaevents.NewMapAttribute(map[string]lambdaevents.DynamoDBAttributeValue{
						"points": lambdaevents.NewNumberAttribute("10"),
						"deep":   lambdaevents.NewListAttribute([]lambdaevents.DynamoDBAttributeValue{lambdaevents.NewNumberSetAttribute([]string{"3"})}),
					}),
					lambdaevents.NewListAttribute([]lambdaevents.DynamoDBAttributeValue{}),
				}),
				"empty": lambdaevents.NewMapAttribute(map[string]lambdaevents.DynamoDBAttributeValue{}),
			}),
		},
		// A member a future SDK adds degrades to NULL rather than panicking.
		{"unknown member", &types.UnknownUnionMember{Tag: "X", Value: []byte("?")}, lambdaevents.NewNullAttribute()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toLambdaValue(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("toLambdaValue(%T) = %s, want %s", tt.in, mustJSON(t, got), mustJSON(t, tt.want))
			}
			if got, want := got.DataType(), tt.want.DataType(); got != want {
				t.Errorf("DataType() = %v, want %v", got, want)
			}
		})
	}
}

// TestToLambdaValueAccessors reads a converted nested value the way a
// handler does, through the typed accessors, which panic on a wrong type.
func TestToLambdaValueAccessors(t *testing.T) {
	v := toLambdaValue(&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"s":  &types.AttributeValueMemberS{Value: "str"},
		"n":  &types.AttributeValueMemberN{Value: "42"},
		"b":  &types.AttributeValueMemberB{Value: []byte("raw")},
		"ok": &types.AttributeValueMemberBOOL{Value: true},
		"no": &types.AttributeValueMemberNULL{Value: true},
		"l":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}}}},
	}})
	m := v.Map()
	if got, want := m["s"].String(), "str"; got != want {
		t.Errorf("s = %q, want %q", got, want)
	}
	if got, err := m["n"].Int64(); err != nil || got != 42 {
		t.Errorf("n = %d, %v, want 42", got, err)
	}
	if got, want := string(m["b"].Binary()), "raw"; got != want {
		t.Errorf("b = %q, want %q", got, want)
	}
	if got, want := m["ok"].Boolean(), true; got != want {
		t.Errorf("ok = %v, want %v", got, want)
	}
	if got, want := m["no"].IsNull(), true; got != want {
		t.Errorf("no.IsNull() = %v, want %v", got, want)
	}
	if got, want := m["l"].List()[0].Map()["k"].String(), "v"; got != want {
		t.Errorf("l[0].k = %q, want %q", got, want)
	}
}

func TestToLambdaRecord(t *testing.T) {
	const arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000"
	created := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)
	in := types.Record{
		AwsRegion:    aws.String("us-east-1"),
		EventID:      aws.String("ev-1"),
		EventName:    types.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys: map[string]types.AttributeValue{
				"PK": &types.AttributeValueMemberS{Value: "MEMBER#1"},
				"SK": &types.AttributeValueMemberS{Value: "PROFILE"},
			},
			NewImage: map[string]types.AttributeValue{
				"PK":     &types.AttributeValueMemberS{Value: "MEMBER#1"},
				"SK":     &types.AttributeValueMemberS{Value: "PROFILE"},
				"points": &types.AttributeValueMemberN{Value: "20"},
			},
			OldImage: map[string]types.AttributeValue{
				"PK":     &types.AttributeValueMemberS{Value: "MEMBER#1"},
				"SK":     &types.AttributeValueMemberS{Value: "PROFILE"},
				"points": &types.AttributeValueMemberN{Value: "10"},
			},
			SequenceNumber: aws.String("000000000000000000001"),
			SizeBytes:      aws.Int64(123),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
	want := lambdaevents.DynamoDBEventRecord{
		AWSRegion:      "us-east-1",
		EventID:        "ev-1",
		EventName:      "MODIFY",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: arn,
		Change: lambdaevents.DynamoDBStreamRecord{
			ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: created},
			Keys: map[string]lambdaevents.DynamoDBAttributeValue{
				"PK": lambdaevents.NewStringAttribute("MEMBER#1"),
				"SK": lambdaevents.NewStringAttribute("PROFILE"),
			},
			NewImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"PK":     lambdaevents.NewStringAttribute("MEMBER#1"),
				"SK":     lambdaevents.NewStringAttribute("PROFILE"),
				"points": lambdaevents.NewNumberAttribute("20"),
			},
			OldImage: map[string]lambdaevents.DynamoDBAttributeValue{
				"PK":     lambdaevents.NewStringAttribute("MEMBER#1"),
				"SK":     lambdaevents.NewStringAttribute("PROFILE"),
				"points": lambdaevents.NewNumberAttribute("10"),
			},
			SequenceNumber: "000000000000000000001",
			SizeBytes:      123,
			StreamViewType: "NEW_AND_OLD_IMAGES",
		},
	}
	got := toLambdaRecord(arn, in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("toLambdaRecord =\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, want))
	}

	// The handler must not be able to tell the record from one Lambda
	// delivers: it survives the JSON round trip Lambda puts it through.
	var back lambdaevents.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(mustJSON(t, got)), &back); err != nil {
		t.Fatalf("unmarshal converted record: %v", err)
	}
	if !reflect.DeepEqual(back.Change.NewImage, want.Change.NewImage) || !reflect.DeepEqual(back.Change.Keys, want.Change.Keys) {
		t.Errorf("JSON round trip changed the images: got %s", mustJSON(t, back))
	}
	if got, want := back.Change.ApproximateCreationDateTime.Unix(), created.Unix(); got != want {
		t.Errorf("round-tripped ApproximateCreationDateTime = %d, want %d", got, want)
	}
}

// TestToLambdaRecordNilParts covers records with parts missing: an INSERT
// has no OldImage, a REMOVE no NewImage, a KEYS_ONLY stream neither, and a
// record without a Dynamodb body at all must not panic.
func TestToLambdaRecordNilParts(t *testing.T) {
	t.Run("no images", func(t *testing.T) {
		got := toLambdaRecord("arn", types.Record{
			EventName: types.OperationTypeRemove,
			Dynamodb: &types.StreamRecord{
				Keys:           map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "p"}},
				SequenceNumber: aws.String("9"),
				StreamViewType: types.StreamViewTypeKeysOnly,
			},
		})
		if got.Change.NewImage != nil || got.Change.OldImage != nil {
			t.Errorf("images = %v / %v, want nil / nil", got.Change.NewImage, got.Change.OldImage)
		}
		if got, want := got.Change.Keys["PK"].String(), "p"; got != want {
			t.Errorf("Keys[PK] = %q, want %q", got, want)
		}
		if !got.Change.ApproximateCreationDateTime.IsZero() {
			t.Errorf("ApproximateCreationDateTime = %v, want zero", got.Change.ApproximateCreationDateTime)
		}
		if got, want := got.EventName, "REMOVE"; got != want {
			t.Errorf("EventName = %q, want %q", got, want)
		}
		if got, want := got.EventSource, "aws:dynamodb"; got != want {
			t.Errorf("EventSource = %q, want %q", got, want)
		}
	})
	t.Run("no body", func(t *testing.T) {
		got := toLambdaRecord("arn", types.Record{EventID: aws.String("e")})
		if !reflect.DeepEqual(got.Change, lambdaevents.DynamoDBStreamRecord{}) {
			t.Errorf("Change = %+v, want zero", got.Change)
		}
		if got, want := got.EventID, "e"; got != want {
			t.Errorf("EventID = %q, want %q", got, want)
		}
		if got, want := got.EventSourceArn, "arn"; got != want {
			t.Errorf("EventSourceArn = %q, want %q", got, want)
		}
	})
	t.Run("nil map", func(t *testing.T) {
		if got := toLambdaMap(nil); got != nil {
			t.Errorf("toLambdaMap(nil) = %v, want nil", got)
		}
		got := toLambdaMap(map[string]types.AttributeValue{})
		if got == nil || len(got) != 0 {
			t.Errorf("toLambdaMap(empty) = %#v, want an empty non-nil map", got)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return string(b)
}
