// Package streams reads a DynamoDB table's stream the way Lambda's event
// source mapping does — shard by shard, in order, retrying from the first
// failed record — and hands each batch to the same handler Lambda would run.
// It exists so `make run` exercises the real dispatch path without AWS.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// BatchHandler is the signature of a DynamoDB stream Lambda handler.
type BatchHandler func(context.Context, lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error)

// Poller feeds a table's stream to a BatchHandler.
type Poller struct {
	DynamoDB *dynamodb.Client
	Streams  *dynamodbstreams.Client
	Table    string
	Handle   BatchHandler
	Log      *slog.Logger
	// Idle is the pause after a poll that found nothing (default 200ms).
	Idle time.Duration
	// RetryDelay is the pause before retrying a failed batch (default 1s).
	RetryDelay time.Duration
	// MaxAttempts is how often one record may fail before it is handed to
	// DeadLetter and skipped, like the event source mapping's
	// MaximumRetryAttempts with an on-failure destination. 0 or a nil
	// DeadLetter means retry for ever (the shard waits).
	MaxAttempts int
	// DeadLetter receives a record that failed MaxAttempts times, with the
	// last error. If it fails, the record is not skipped.
	DeadLetter func(ctx context.Context, rec lambdaevents.DynamoDBEventRecord, cause error) error
	// Filter, when set, keeps only the records it accepts, as the event
	// source mapping's FilterCriteria do: the others never reach Handle
	// and count as handled.
	Filter func(lambdaevents.DynamoDBEventRecord) bool
	// BatchSize is the most records one Handle call gets (default 100, as
	// the mapping's BatchSize); a page of up to 1000 records is split.
	BatchSize int
	// Checkpoints, when set, keeps each shard's position durably: a
	// restarted poller resumes after the last record handled, as Lambda's
	// event source mapping does. Without, every run starts at the trim
	// horizon (the handler is idempotent, so that is only slower).
	Checkpoints Checkpoints

	mu     sync.Mutex
	lastOK time.Time
	saved  map[string]Position // positions loaded at start, by shard
}

type shardState struct {
	id, parent string
	iterator   *string
	lastSeq    string // last sequence number handled successfully
	closed     bool
	// isolate reads one record at a time after a whole-batch failure, so a
	// poison record is found the way Lambda's bisect-on-error finds it.
	isolate bool
	// headSeq is the record the shard is stuck on and headFailures how
	// often it failed.
	headSeq      string
	headFailures int
}

// Healthy reports whether the poller completed a round of polls without a
// failing batch within the last maxAge.
func (p *Poller) Healthy(maxAge time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.lastOK.IsZero() && time.Since(p.lastOK) < maxAge
}

func (p *Poller) markOK() {
	p.mu.Lock()
	p.lastOK = time.Now()
	p.mu.Unlock()
}

// Run polls until ctx is cancelled. Every shard starts where its
// checkpoint says (after the last record handled), or at TRIM_HORIZON
// when it has none; records are delivered at least once, exactly as
// Lambda delivers them, and the handler is idempotent.
func (p *Poller) Run(ctx context.Context) error {
	if p.Log == nil {
		p.Log = slog.Default()
	}
	idle, retry := p.Idle, p.RetryDelay
	if idle == 0 {
		idle = 200 * time.Millisecond
	}
	if retry == 0 {
		retry = time.Second
	}
	desc, err := p.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.Table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", p.Table, err)
	}
	if desc.Table.LatestStreamArn == nil {
		return fmt.Errorf("table %s has no stream enabled", p.Table)
	}
	arn := *desc.Table.LatestStreamArn
	p.saved = map[string]Position{}
	if p.Checkpoints != nil {
		if p.saved, err = p.Checkpoints.Load(ctx, arn); err != nil {
			return err
		}
	}
	shards := map[string]*shardState{}
	var order []string // shards in discovery order, parents first
	var lastRefresh time.Time

	for ctx.Err() == nil {
		if time.Since(lastRefresh) > 5*time.Second {
			if order, err = p.refreshShards(ctx, arn, shards, order); err != nil {
				p.Log.WarnContext(ctx, "stream: list shards failed", "err", err)
				sleep(ctx, retry)
				continue
			}
			lastRefresh = time.Now()
		}
		busy, failed := false, false
		for _, id := range order {
			s := shards[id]
			if s.closed {
				continue
			}
			if parent, ok := shards[s.parent]; ok && !parent.closed {
				continue // a child waits until its parent is drained
			}
			n, err := p.pollShard(ctx, arn, s)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				p.Log.WarnContext(ctx, "stream: batch failed; retrying", "shard", s.id, "err", err)
				sleep(ctx, retry)
				busy, failed = true, true
				continue
			}
			busy = busy || n > 0
		}
		// Healthy means "records are flowing": a round in which a shard
		// keeps failing does not count.
		if !failed {
			p.markOK()
		}
		if !busy {
			sleep(ctx, idle)
		}
	}
	return nil
}

func (p *Poller) refreshShards(ctx context.Context, arn string, shards map[string]*shardState, order []string) ([]string, error) {
	var start *string
	for {
		out, err := p.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn), ExclusiveStartShardId: start})
		if err != nil {
			return order, fmt.Errorf("describe stream: %w", err)
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, ok := shards[id]; !ok {
				saved := p.saved[id]
				shards[id] = &shardState{id: id, parent: aws.ToString(sh.ParentShardId), lastSeq: saved.Seq, closed: saved.Closed}
				order = append(order, id)
			}
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return order, nil
		}
	}
}

// pollShard reads one page of a shard and handles it; it returns how many
// records were read.
func (p *Poller) pollShard(ctx context.Context, arn string, s *shardState) (int, error) {
	if s.iterator == nil {
		in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(s.id), ShardIteratorType: types.ShardIteratorTypeTrimHorizon}
		if s.lastSeq != "" {
			in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
			in.SequenceNumber = aws.String(s.lastSeq)
		}
		it, err := p.Streams.GetShardIterator(ctx, in)
		if err != nil {
			var expired *types.TrimmedDataAccessException
			if errors.As(err, &expired) {
				s.lastSeq = "" // our position aged out of the 24h window
			}
			return 0, fmt.Errorf("shard iterator: %w", err)
		}
		s.iterator = it.ShardIterator
	}
	limit := int32(maxPage)
	if s.isolate {
		limit = 1
	}
	out, err := p.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: s.iterator, Limit: aws.Int32(limit)})
	if err != nil {
		s.iterator = nil // expired iterators are re-created from lastSeq
		return 0, fmt.Errorf("get records: %w", err)
	}
	if len(out.Records) > 0 {
		size := p.BatchSize
		if size <= 0 {
			size = defaultBatchSize
		}
		var chunk []lambdaevents.DynamoDBEventRecord
		for _, r := range out.Records {
			rec := toLambdaRecord(arn, r)
			if p.Filter != nil && !p.Filter(rec) {
				continue
			}
			if chunk = append(chunk, rec); len(chunk) == size {
				if err := p.handle(ctx, arn, s, chunk); err != nil {
					return len(out.Records), err
				}
				chunk = nil
			}
		}
		if err := p.handle(ctx, arn, s, chunk); err != nil {
			return len(out.Records), err
		}
		// Records the filter dropped after the last batch are done too.
		s.lastSeq = aws.ToString(out.Records[len(out.Records)-1].Dynamodb.SequenceNumber)
		s.isolate, s.headSeq, s.headFailures = false, "", 0
		p.save(ctx, arn, s)
	}
	s.iterator = out.NextShardIterator
	if s.iterator == nil {
		s.closed = true
		p.save(ctx, arn, s)
	}
	return len(out.Records), nil
}

// maxPage is the most records one GetRecords call asks for (the API's
// limit); defaultBatchSize is Poller.BatchSize when unset, the event source
// mapping's BatchSize in template.yaml.
const (
	maxPage          = 1000
	defaultBatchSize = 100
)

// handle hands one batch of a page to the handler. On success the shard's
// position moves past the batch; on failure it moves to just before the
// earliest failed record (or stays, when the handler failed the batch
// whole), the iterator is dropped so the next poll resumes there, and the
// error is returned.
func (p *Poller) handle(ctx context.Context, arn string, s *shardState, records []lambdaevents.DynamoDBEventRecord) error {
	if len(records) == 0 {
		return nil
	}
	batch := lambdaevents.DynamoDBEvent{Records: records}
	resp, err := p.Handle(ctx, batch)
	handlerErr := err
	if err == nil && len(resp.BatchItemFailures) > 0 {
		err = fmt.Errorf("%d record(s) failed, first %s", len(resp.BatchItemFailures), resp.BatchItemFailures[0].ItemIdentifier)
	}
	if err == nil {
		s.lastSeq = records[len(records)-1].Change.SequenceNumber
		return nil
	}
	// Like Lambda with ReportBatchItemFailures: keep what succeeded,
	// resume at the earliest failure. As on Lambda, a handler error or an
	// identifier naming no record of the batch fails it whole.
	if handlerErr == nil {
		s.lastSeq = checkpoint(s.lastSeq, records, resp.BatchItemFailures)
	} else {
		s.isolate = true
	}
	s.iterator = nil
	// The failing record is known when the handler named it, or when it
	// was alone in the batch.
	culprit := handlerErr == nil || len(records) == 1
	if dlErr := p.countFailure(ctx, s, records, culprit, err); dlErr != nil {
		err = errors.Join(err, dlErr)
	}
	p.save(ctx, arn, s) // what succeeded, or was parked, stays done
	return err
}

// save checkpoints the shard's position. A failed save is logged, not
// fatal: the position is then only lost to a restart, which redelivers.
func (p *Poller) save(ctx context.Context, arn string, s *shardState) {
	if p.Checkpoints == nil {
		return
	}
	if err := p.Checkpoints.Save(ctx, arn, s.id, Position{Seq: s.lastSeq, Closed: s.closed}); err != nil {
		p.Log.WarnContext(ctx, "stream: checkpoint not saved; a restart will redeliver from the last saved one", "shard", s.id, "err", err)
	}
}

// countFailure counts another failure of the record the shard now resumes
// at and, once it has failed MaxAttempts times, dead-letters and skips it.
func (p *Poller) countFailure(ctx context.Context, s *shardState, records []lambdaevents.DynamoDBEventRecord, culprit bool, cause error) error {
	if !culprit {
		return nil
	}
	head := 0
	for i, r := range records {
		if r.Change.SequenceNumber == s.lastSeq {
			head = i + 1
		}
	}
	if head >= len(records) {
		return nil
	}
	rec := records[head]
	if rec.Change.SequenceNumber != s.headSeq {
		s.headSeq, s.headFailures = rec.Change.SequenceNumber, 0
	}
	s.headFailures++
	if p.MaxAttempts <= 0 || p.DeadLetter == nil || s.headFailures < p.MaxAttempts {
		return nil
	}
	if err := p.DeadLetter(ctx, rec, cause); err != nil {
		return fmt.Errorf("dead-letter record %s: %w", rec.Change.SequenceNumber, err)
	}
	p.Log.ErrorContext(ctx, "stream: record dead-lettered after repeated failures", "sequence", rec.Change.SequenceNumber, "attempts", s.headFailures, "err", cause)
	s.lastSeq, s.headSeq, s.headFailures, s.isolate = rec.Change.SequenceNumber, "", 0, false
	return nil
}

// checkpoint returns the sequence number of the last record before the
// earliest failed one, or lastSeq unchanged when the first record failed or
// any identifier is not a record of the batch.
func checkpoint(lastSeq string, records []lambdaevents.DynamoDBEventRecord, failures []lambdaevents.DynamoDBBatchItemFailure) string {
	earliest := len(records)
	for _, f := range failures {
		i := slices.IndexFunc(records, func(r lambdaevents.DynamoDBEventRecord) bool { return r.Change.SequenceNumber == f.ItemIdentifier })
		if i < 0 {
			return lastSeq
		}
		earliest = min(earliest, i)
	}
	if earliest == 0 || earliest == len(records) {
		return lastSeq
	}
	return records[earliest-1].Change.SequenceNumber
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
