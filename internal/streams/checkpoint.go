package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Position is where a shard's processing stands: the sequence number of
// the last record handled (none yet: ""), and whether the shard is closed
// and fully handled.
type Position struct {
	Seq    string `json:"seq,omitempty"`
	Closed bool   `json:"closed,omitempty"`
}

// Checkpoints keeps each shard's Position durably, as Lambda's event
// source mapping does, so a restarted poller resumes where processing
// stopped instead of re-reading the stream from its trim horizon.
type Checkpoints interface {
	// Load returns the positions saved for the stream (none: empty).
	Load(ctx context.Context, streamARN string) (map[string]Position, error)
	// Save records a shard's position.
	Save(ctx context.Context, streamARN, shardID string, p Position) error
}

// FileCheckpoints keeps the positions of one stream in a JSON file,
// replaced atomically on every save. Positions of another stream (a
// recreated table) are dropped: sequence numbers mean nothing across
// streams.
type FileCheckpoints struct {
	Path string

	mu     sync.Mutex
	stream string
	shards map[string]Position
}

type checkpointFile struct {
	Stream string              `json:"stream_arn"`
	Shards map[string]Position `json:"shards"`
}

// Load reads the file; a missing file, or one for another stream, is no
// positions.
func (f *FileCheckpoints) Load(_ context.Context, streamARN string) (map[string]Position, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stream, f.shards = streamARN, map[string]Position{}
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Position{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read stream checkpoints: %w", err)
	}
	var cf checkpointFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("read stream checkpoints %s: %w", f.Path, err)
	}
	out := map[string]Position{}
	if cf.Stream == streamARN {
		for id, p := range cf.Shards {
			f.shards[id], out[id] = p, p
		}
	}
	return out, nil
}

// Save records the shard's position and rewrites the file.
func (f *FileCheckpoints) Save(_ context.Context, streamARN, shardID string, p Position) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stream != streamARN || f.shards == nil {
		f.stream, f.shards = streamARN, map[string]Position{}
	}
	f.shards[shardID] = p
	b, err := json.MarshalIndent(checkpointFile{Stream: streamARN, Shards: f.shards}, "", "  ")
	if err != nil {
		return fmt.Errorf("save stream checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".stream-checkpoints-*")
	if err != nil {
		return fmt.Errorf("save stream checkpoint: %w", err)
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), f.Path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save stream checkpoint: %w", werr)
	}
	return nil
}
