package streams

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/memberflow/memberflow/internal/testenv/ddblocal"
)

func TestMain(m *testing.M) { ddblocal.Main(m) }

// waitTimeout bounds every wait for the poller; DynamoDB Local answers in
// milliseconds, so hitting it means something is stuck, not slow.
const waitTimeout = 10 * time.Second

// fast keeps the poller's pauses short so the tests run in seconds.
const fast = 20 * time.Millisecond

const partition = "MEMBER#1"

// newStreamsClient mirrors internal/localstack's: DynamoDB Local's streams
// API with the same dummy credentials as the table client.
func newStreamsClient(t *testing.T) *dynamodbstreams.Client {
	t.Helper()
	return dynamodbstreams.New(dynamodbstreams.Options{
		BaseEndpoint: aws.String(ddblocal.Endpoint(t)),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// recorder is a BatchHandler that remembers every batch it was given and
// which records it reported done. fail decides, per call, what to answer.
type recorder struct {
	mu      sync.Mutex
	calls   int
	batches [][]string     // SK of each delivered record, per batch
	done    map[string]int // SK -> times the handler counted it processed
	records map[string][]lambdaevents.DynamoDBEventRecord
	// fail is called with the call number (0-based) and the batch and
	// decides the answer. nil means everything succeeds.
	fail func(call int, batch lambdaevents.DynamoDBEvent) answer
}

// answer is a handler's reply to one batch.
type answer struct {
	resp lambdaevents.DynamoDBEventResponse
	err  error
	ok   int // how many leading records the handler really finished
}

func success(b lambdaevents.DynamoDBEvent) answer { return answer{ok: len(b.Records)} }

func newRecorder() *recorder {
	return &recorder{done: map[string]int{}, records: map[string][]lambdaevents.DynamoDBEventRecord{}}
}

func (r *recorder) handle(_ context.Context, batch lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := r.calls
	r.calls++
	var sks []string
	for _, rec := range batch.Records {
		sk := skOf(rec)
		sks = append(sks, sk)
		r.records[sk] = append(r.records[sk], rec)
	}
	r.batches = append(r.batches, sks)
	a := success(batch)
	if r.fail != nil {
		a = r.fail(call, batch)
	}
	for _, sk := range sks[:a.ok] {
		r.done[sk]++
	}
	return a.resp, a.err
}

// delivered returns how many times each SK was handed to the handler.
func (r *recorder) delivered() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for sk, recs := range r.records {
		out[sk] = len(recs)
	}
	return out
}

func (r *recorder) processed(sk string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[sk]
}

// order returns the SKs in the order the handler processed them.
func (r *recorder) order() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func (r *recorder) firstBatch() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) == 0 {
		return nil
	}
	return r.batches[0]
}

func skOf(rec lambdaevents.DynamoDBEventRecord) string {
	if sk, ok := rec.Change.Keys["SK"]; ok && sk.DataType() == lambdaevents.DataTypeString {
		return sk.String()
	}
	return "?"
}

// startPoller runs p until the test ends (or stop is called) and returns a
// stop function giving Run's result; Run must return within waitTimeout.
func startPoller(t *testing.T, p *Poller) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(waitTimeout):
				runErr = errors.New("Run did not return within " + waitTimeout.String() + " of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("poller: %v", err)
		}
	})
	return stop
}

func newPoller(t *testing.T, client *dynamodb.Client, table string, h BatchHandler) *Poller {
	t.Helper()
	return &Poller{
		DynamoDB:   client,
		Streams:    newStreamsClient(t),
		Table:      table,
		Handle:     h,
		Log:        slog.New(slog.NewTextHandler(t.Output(), nil)),
		Idle:       fast,
		RetryDelay: fast,
	}
}

func put(t *testing.T, client *dynamodb.Client, table, sk string, attrs map[string]ddbtypes.AttributeValue) {
	t.Helper()
	item := map[string]ddbtypes.AttributeValue{
		"PK": &ddbtypes.AttributeValueMemberS{Value: partition},
		"SK": &ddbtypes.AttributeValueMemberS{Value: sk},
	}
	for k, v := range attrs {
		item[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatalf("put %s: %v", sk, err)
	}
}

// putN writes items SK prefix-00 .. prefix-(n-1) in order.
func putN(t *testing.T, client *dynamodb.Client, table, prefix string, n int) []string {
	t.Helper()
	sks := make([]string, n)
	for i := range sks {
		sks[i] = fmt.Sprintf("%s-%02d", prefix, i)
		put(t, client, table, sks[i], map[string]ddbtypes.AttributeValue{"n": &ddbtypes.AttributeValueMemberN{Value: fmt.Sprint(i)}})
	}
	return sks
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// drain writes a sentinel item after everything else in the partition and
// waits until it is processed. Records of one partition arrive in write
// order, so once the sentinel is done every earlier record has had its
// chance to be delivered, and counts taken now are final.
func drain(t *testing.T, client *dynamodb.Client, table string, r *recorder) {
	t.Helper()
	const sentinel = "zz-sentinel"
	put(t, client, table, sentinel, nil)
	eventually(t, "the sentinel record", func() bool { return r.processed(sentinel) > 0 })
}

// plain turns an attribute into comparable Go values: {"S": "x"},
// {"SS": sorted strings}, nested maps and lists likewise. Sets are sorted
// because DynamoDB does not keep their order.
func plain(v lambdaevents.DynamoDBAttributeValue) any {
	switch v.DataType() {
	case lambdaevents.DataTypeString:
		return map[string]any{"S": v.String()}
	case lambdaevents.DataTypeNumber:
		return map[string]any{"N": v.Number()}
	case lambdaevents.DataTypeBoolean:
		return map[string]any{"BOOL": v.Boolean()}
	case lambdaevents.DataTypeNull:
		return map[string]any{"NULL": true}
	case lambdaevents.DataTypeBinary:
		return map[string]any{"B": string(v.Binary())}
	case lambdaevents.DataTypeStringSet:
		return map[string]any{"SS": slices.Sorted(slices.Values(v.StringSet()))}
	case lambdaevents.DataTypeNumberSet:
		return map[string]any{"NS": slices.Sorted(slices.Values(v.NumberSet()))}
	case lambdaevents.DataTypeBinarySet:
		var bs []string
		for _, b := range v.BinarySet() {
			bs = append(bs, string(b))
		}
		slices.Sort(bs)
		return map[string]any{"BS": bs}
	case lambdaevents.DataTypeList:
		l := []any{}
		for _, e := range v.List() {
			l = append(l, plain(e))
		}
		return map[string]any{"L": l}
	case lambdaevents.DataTypeMap:
		return map[string]any{"M": plainMap(v.Map())}
	}
	return fmt.Sprintf("unknown type %v", v.DataType())
}

func plainMap(m map[string]lambdaevents.DynamoDBAttributeValue) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

func TestPollerDeliversEveryRecordOnceInOrder(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	r := newRecorder()
	p := newPoller(t, client, table, r.handle)

	before := putN(t, client, table, "a", 3) // read from TRIM_HORIZON
	startPoller(t, p)
	eventually(t, "the records written before start", func() bool { return r.processed(before[2]) > 0 })

	after := putN(t, client, table, "b", 3)
	put(t, client, table, "c-types", map[string]ddbtypes.AttributeValue{
		"s":    &ddbtypes.AttributeValueMemberS{Value: "hello"},
		"n":    &ddbtypes.AttributeValueMemberN{Value: "12.5"},
		"yes":  &ddbtypes.AttributeValueMemberBOOL{Value: true},
		"no":   &ddbtypes.AttributeValueMemberBOOL{Value: false},
		"null": &ddbtypes.AttributeValueMemberNULL{Value: true},
		"bin":  &ddbtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}},
		"ss":   &ddbtypes.AttributeValueMemberSS{Value: []string{"x", "a", "m"}},
		"ns":   &ddbtypes.AttributeValueMemberNS{Value: []string{"3", "1", "2.5"}},
		"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
			"inner": &ddbtypes.AttributeValueMemberS{Value: "v"},
			"list": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
				&ddbtypes.AttributeValueMemberN{Value: "1"},
				&ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"deep": &ddbtypes.AttributeValueMemberBOOL{Value: true}}},
			}},
		}},
		"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{
			&ddbtypes.AttributeValueMemberS{Value: "first"},
			&ddbtypes.AttributeValueMemberNULL{Value: true},
			&ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberS{Value: "nested"}}},
		}},
	})
	// Overwriting an item is a MODIFY carrying both images.
	put(t, client, table, before[0], map[string]ddbtypes.AttributeValue{"n": &ddbtypes.AttributeValueMemberN{Value: "100"}})
	drain(t, client, table, r)

	want := slices.Concat(before, after, []string{"c-types", before[0], "zz-sentinel"})
	if got := r.order(); !slices.Equal(got, want) {
		t.Errorf("delivery order = %v, want %v", got, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	for i, sk := range want {
		recs := r.records[sk]
		wantN := 1
		if sk == before[0] {
			wantN = 2 // the INSERT and the later MODIFY
		}
		if got := len(recs); got != wantN {
			t.Errorf("%s delivered %d times, want %d", sk, got, wantN)
			continue
		}
		if i == len(want)-2 { // the overwrite of before[0]
			continue
		}
		rec := recs[0]
		if got, want := rec.EventName, "INSERT"; got != want {
			t.Errorf("%s EventName = %q, want %q", sk, got, want)
		}
		if rec.Change.OldImage != nil {
			t.Errorf("%s INSERT has OldImage %v, want none", sk, rec.Change.OldImage)
		}
		if got, want := rec.EventSource, "aws:dynamodb"; got != want {
			t.Errorf("%s EventSource = %q, want %q", sk, got, want)
		}
		if !strings.Contains(rec.EventSourceArn, table) {
			t.Errorf("%s EventSourceArn = %q, want the stream of table %s", sk, rec.EventSourceArn, table)
		}
		if rec.Change.SequenceNumber == "" || rec.EventID == "" {
			t.Errorf("%s has SequenceNumber %q, EventID %q; want both set", sk, rec.Change.SequenceNumber, rec.EventID)
		}
		if got, want := plainMap(rec.Change.Keys), map[string]any{"PK": map[string]any{"S": partition}, "SK": map[string]any{"S": sk}}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s Keys = %v, want %v", sk, got, want)
		}
	}

	typed := r.records["c-types"][0]
	wantImage := map[string]any{
		"PK":   map[string]any{"S": partition},
		"SK":   map[string]any{"S": "c-types"},
		"s":    map[string]any{"S": "hello"},
		"n":    map[string]any{"N": "12.5"},
		"yes":  map[string]any{"BOOL": true},
		"no":   map[string]any{"BOOL": false},
		"null": map[string]any{"NULL": true},
		"bin":  map[string]any{"B": "\x00\x01\x02\xff"},
		"ss":   map[string]any{"SS": []string{"a", "m", "x"}},
		"ns":   map[string]any{"NS": []string{"1", "2.5", "3"}},
		"m": map[string]any{"M": map[string]any{
			"inner": map[string]any{"S": "v"},
			"list": map[string]any{"L": []any{
				map[string]any{"N": "1"},
				map[string]any{"M": map[string]any{"deep": map[string]any{"BOOL": true}}},
			}},
		}},
		"l": map[string]any{"L": []any{
			map[string]any{"S": "first"},
			map[string]any{"NULL": true},
			map[string]any{"L": []any{map[string]any{"S": "nested"}}},
		}},
	}
	if got := plainMap(typed.Change.NewImage); !reflect.DeepEqual(got, wantImage) {
		t.Errorf("NewImage =\n%v\nwant\n%v", got, wantImage)
	}

	mod := r.records[before[0]][1]
	if got, want := mod.EventName, "MODIFY"; got != want {
		t.Errorf("overwrite EventName = %q, want %q", got, want)
	}
	if got, want := mod.Change.StreamViewType, "NEW_AND_OLD_IMAGES"; got != want {
		t.Errorf("StreamViewType = %q, want %q", got, want)
	}
	if mod.Change.OldImage == nil || mod.Change.NewImage == nil {
		t.Fatalf("MODIFY images = old %v, new %v; want both", mod.Change.OldImage, mod.Change.NewImage)
	}
	if got, want := mod.Change.OldImage["n"].Number(), "0"; got != want {
		t.Errorf("MODIFY OldImage n = %s, want %s", got, want)
	}
	if got, want := mod.Change.NewImage["n"].Number(), "100"; got != want {
		t.Errorf("MODIFY NewImage n = %s, want %s", got, want)
	}
	if first, second := r.records[before[0]][0].Change.SequenceNumber, mod.Change.SequenceNumber; first == second {
		t.Errorf("INSERT and MODIFY share sequence number %s", first)
	}
}

// TestPollerRetries checks Lambda's ReportBatchItemFailures semantics: the
// records before the earliest failure are done, the batch resumes at that
// record after RetryDelay, and nothing is lost or processed twice.
func TestPollerRetries(t *testing.T) {
	const n = 5 // written before the poller starts, so they come as one batch
	failures := func(batch lambdaevents.DynamoDBEvent, idx ...int) lambdaevents.DynamoDBEventResponse {
		var resp lambdaevents.DynamoDBEventResponse
		for _, i := range idx {
			resp.BatchItemFailures = append(resp.BatchItemFailures, lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: batch.Records[i].Change.SequenceNumber})
		}
		return resp
	}
	tests := []struct {
		name string
		// first answers the first delivery of the batch.
		first func(batch lambdaevents.DynamoDBEvent) answer
		// resumeAt is the index of the first record delivered again.
		resumeAt int
	}{
		{
			name: "third record fails",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: failures(b, 2), ok: 2}
			},
			resumeAt: 2,
		},
		{
			name: "several failures",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: failures(b, 2, 4), ok: 2}
			},
			resumeAt: 2,
		},
		{
			// Lambda checkpoints at the lowest sequence number reported,
			// whatever the order of the list.
			name: "failures listed out of order",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: failures(b, 3, 2), ok: 2}
			},
			resumeAt: 2,
		},
		{
			name: "first record fails",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: failures(b, 0)}
			},
			resumeAt: 0,
		},
		{
			name: "handler error",
			first: func(lambdaevents.DynamoDBEvent) answer {
				return answer{err: errors.New("boom")}
			},
			resumeAt: 0,
		},
		{
			// On Lambda an error discards the response: the whole batch is
			// retried, whatever failures it lists.
			name: "handler error with failures",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: failures(b, 3), err: errors.New("boom")}
			},
			resumeAt: 0,
		},
		{
			// An identifier naming no record in the batch (here the
			// EventID, a common slip) must not be read as "all done".
			name: "unknown item identifier",
			first: func(b lambdaevents.DynamoDBEvent) answer {
				return answer{resp: lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: b.Records[2].EventID}}}}
			},
			resumeAt: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, table := ddblocal.NewTable(t)
			r := newRecorder()
			r.fail = func(call int, b lambdaevents.DynamoDBEvent) answer {
				if call == 0 {
					return tt.first(b)
				}
				return success(b)
			}
			sks := putN(t, client, table, "a", n)
			startPoller(t, newPoller(t, client, table, r.handle))
			eventually(t, "the first batch to be processed", func() bool { return r.processed(sks[n-1]) > 0 })
			if got := r.firstBatch(); !slices.Equal(got, sks) {
				t.Fatalf("first batch = %v, want all of %v (the test relies on one batch)", got, sks)
			}

			// Records written after the failure are not lost either.
			later := putN(t, client, table, "b", 2)
			drain(t, client, table, r)

			delivered := r.delivered()
			for i, sk := range sks {
				want := 1
				if i >= tt.resumeAt {
					want = 2
				}
				if got := delivered[sk]; got != want {
					t.Errorf("%s delivered %d times, want %d", sk, got, want)
				}
			}
			for _, sk := range slices.Concat(sks, later) {
				if got, want := r.processed(sk), 1; got != want {
					t.Errorf("%s processed %d times, want %d", sk, got, want)
				}
			}
			wantOrder := slices.Concat(sks, sks[tt.resumeAt:], later, []string{"zz-sentinel"})
			if got := r.order(); !slices.Equal(got, wantOrder) {
				t.Errorf("delivery order = %v, want %v", got, wantOrder)
			}
		})
	}
}

// TestPollerRetriesUntilSuccess keeps failing the same record: the poller
// must keep retrying it and never skip ahead.
func TestPollerRetriesUntilSuccess(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	r := newRecorder()
	r.fail = func(call int, b lambdaevents.DynamoDBEvent) answer {
		for i, rec := range b.Records {
			if skOf(rec) == "a-01" && call < 3 {
				return answer{resp: lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}, ok: i}
			}
		}
		return success(b)
	}
	sks := putN(t, client, table, "a", 3)
	startPoller(t, newPoller(t, client, table, r.handle))
	eventually(t, "the last record to be processed", func() bool { return r.processed(sks[2]) > 0 })
	drain(t, client, table, r)

	// Three failed attempts and one that succeeds; a-00 is never repeated.
	delivered := r.delivered()
	for sk, want := range map[string]int{"a-00": 1, "a-01": 4, "a-02": 4} {
		if got := delivered[sk]; got != want {
			t.Errorf("%s delivered %d times, want %d", sk, got, want)
		}
	}
	for _, sk := range sks {
		if got, want := r.processed(sk), 1; got != want {
			t.Errorf("%s processed %d times, want %d", sk, got, want)
		}
	}
}

func TestPollerHealthy(t *testing.T) {
	client, table := ddblocal.NewTable(t)
	p := newPoller(t, client, table, newRecorder().handle)
	if p.Healthy(time.Hour) {
		t.Fatal("Healthy before Run = true, want false")
	}
	stop := startPoller(t, p)
	eventually(t, "Healthy after the first poll", func() bool { return p.Healthy(time.Minute) })
	if p.Healthy(0) {
		t.Error("Healthy(0) = true, want false")
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Without polls the last success ages out.
	eventually(t, "Healthy to turn false after Run stopped", func() bool { return !p.Healthy(50 * time.Millisecond) })
}

func TestPollerStopsOnCancel(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		client, table := ddblocal.NewTable(t)
		p := newPoller(t, client, table, newRecorder().handle)
		p.Idle = time.Hour // cancel must interrupt the idle pause
		stop := startPoller(t, p)
		eventually(t, "the first poll", func() bool { return p.Healthy(time.Minute) })
		start := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %v to return after cancel", d)
		}
	})
	t.Run("waiting to retry", func(t *testing.T) {
		client, table := ddblocal.NewTable(t)
		r := newRecorder()
		r.fail = func(int, lambdaevents.DynamoDBEvent) answer {
			return answer{err: errors.New("always")}
		}
		p := newPoller(t, client, table, r.handle)
		p.RetryDelay = time.Hour // cancel must interrupt the retry pause
		putN(t, client, table, "a", 1)
		stop := startPoller(t, p)
		eventually(t, "the failing delivery", func() bool { return len(r.delivered()) > 0 })
		start := time.Now()
		if err := stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Run took %v to return after cancel", d)
		}
	})
	t.Run("inside the handler", func(t *testing.T) {
		client, table := ddblocal.NewTable(t)
		entered := make(chan struct{})
		var once sync.Once
		p := newPoller(t, client, table, func(ctx context.Context, _ lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
			once.Do(func() { close(entered) })
			<-ctx.Done()
			return lambdaevents.DynamoDBEventResponse{}, ctx.Err()
		})
		putN(t, client, table, "a", 1)
		stop := startPoller(t, p)
		select {
		case <-entered:
		case <-time.After(waitTimeout):
			t.Fatal("handler never called")
		}
		if err := stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	})
}

func TestPollerRunErrors(t *testing.T) {
	client, _ := ddblocal.NewTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	t.Run("no stream", func(t *testing.T) {
		name := "memberflow-test-nostream-" + rand.Text()[:12]
		if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			BillingMode:          ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash}},
		}); err != nil {
			t.Fatalf("create table: %v", err)
		}
		t.Cleanup(func() {
			if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Logf("delete table %s: %v", name, err)
			}
		})
		p := newPoller(t, client, name, newRecorder().handle)
		err := p.Run(ctx)
		if err == nil || !strings.Contains(err.Error(), "no stream") {
			t.Fatalf("Run = %v, want a no-stream error", err)
		}
		if p.Healthy(time.Hour) {
			t.Error("Healthy after a failed Run = true, want false")
		}
	})
	t.Run("no table", func(t *testing.T) {
		p := newPoller(t, client, "memberflow-test-does-not-exist", newRecorder().handle)
		err := p.Run(ctx)
		var notFound *ddbtypes.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Fatalf("Run = %v, want ResourceNotFoundException", err)
		}
	})
}

func TestCheckpoint(t *testing.T) {
	recs := make([]lambdaevents.DynamoDBEventRecord, 4)
	for i := range recs {
		recs[i].Change.SequenceNumber = fmt.Sprintf("seq%d", i)
	}
	fail := func(ids ...string) []lambdaevents.DynamoDBBatchItemFailure {
		var out []lambdaevents.DynamoDBBatchItemFailure
		for _, id := range ids {
			out = append(out, lambdaevents.DynamoDBBatchItemFailure{ItemIdentifier: id})
		}
		return out
	}
	tests := []struct {
		name     string
		failures []lambdaevents.DynamoDBBatchItemFailure
		want     string
	}{
		{"third", fail("seq2"), "seq1"},
		{"last", fail("seq3"), "seq2"},
		{"first", fail("seq0"), "prev"},
		{"out of order", fail("seq3", "seq1"), "seq0"},
		{"unknown", fail("nope"), "prev"},
		{"unknown among known", fail("seq2", "nope"), "prev"},
		{"empty identifier", fail(""), "prev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkpoint("prev", recs, tt.failures); got != tt.want {
				t.Errorf("checkpoint = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPollerDeadLettersPoisonRecords: a record that keeps failing is handed
// to DeadLetter after MaxAttempts and skipped, like Lambda's retry limit with
// an on-failure destination; with whole-batch errors the poller first
// isolates the culprit, so innocent neighbours are never dead-lettered.
func TestPollerDeadLettersPoisonRecords(t *testing.T) {
	for _, tc := range []struct {
		name      string
		poison    func(b lambdaevents.DynamoDBEvent) answer
		delivered int // times the poison record reaches the handler
	}{
		{"handler names the record", func(b lambdaevents.DynamoDBEvent) answer {
			for i, rec := range b.Records {
				if skOf(rec) == "p-01" {
					return answer{resp: lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}}, ok: i}
				}
			}
			return success(b)
		}, 3},
		{"handler fails the whole batch", func(b lambdaevents.DynamoDBEvent) answer {
			for _, rec := range b.Records {
				if skOf(rec) == "p-01" {
					return answer{err: errors.New("boom")}
				}
			}
			return success(b)
		}, 0}, // depends on how the batch was cut; checked below as ≥ 3
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, table := ddblocal.NewTable(t)
			r := newRecorder()
			r.fail = func(_ int, b lambdaevents.DynamoDBEvent) answer { return tc.poison(b) }
			var mu sync.Mutex
			var dead []string
			p := newPoller(t, client, table, r.handle)
			p.MaxAttempts = 3
			p.DeadLetter = func(_ context.Context, rec lambdaevents.DynamoDBEventRecord, cause error) error {
				mu.Lock()
				defer mu.Unlock()
				if cause == nil {
					t.Error("dead letter without a cause")
				}
				dead = append(dead, skOf(rec))
				return nil
			}
			sks := putN(t, client, table, "p", 3)
			startPoller(t, p)
			eventually(t, "the record after the poison one", func() bool { return r.processed(sks[2]) > 0 })
			drain(t, client, table, r)

			mu.Lock()
			defer mu.Unlock()
			if got, want := strings.Join(dead, ","), "p-01"; got != want {
				t.Errorf("dead-lettered %q, want %q", got, want)
			}
			for _, sk := range []string{"p-00", "p-02"} {
				if got, want := r.processed(sk), 1; got != want {
					t.Errorf("%s processed %d times, want %d", sk, got, want)
				}
			}
			if got := r.processed("p-01"); got != 0 {
				t.Errorf("poison record processed %d times", got)
			}
			got := r.delivered()["p-01"]
			if tc.delivered > 0 && got != tc.delivered {
				t.Errorf("poison record delivered %d times, want %d", got, tc.delivered)
			}
			if got < 3 {
				t.Errorf("poison record delivered %d times, want at least MaxAttempts", got)
			}
		})
	}
}
