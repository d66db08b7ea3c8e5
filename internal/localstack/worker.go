package localstack

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/memberflow/memberflow/workflows"
)

// workerStopTimeout is how long a graceful stop lets in-flight activities
// finish.
const workerStopTimeout = 10 * time.Second

// runningWorker is a started worker and the switch that cancels its
// in-flight activities.
type runningWorker struct {
	w    worker.Worker
	kill context.CancelFunc
}

// startWorker starts a worker on the default task queue running every
// workflow and s.Activities.
func (s *Stack) startWorker() (*runningWorker, error) {
	ctx, kill := context.WithCancel(context.Background())
	w := worker.New(s.Temporal, workflows.DefaultTaskQueue, worker.Options{
		// Activities' contexts derive from it, so kill cancels them all.
		BackgroundActivityContext: ctx,
		WorkerStopTimeout:         workerStopTimeout,
	})
	workflows.Register(w, s.Activities)
	if err := w.Start(); err != nil {
		kill()
		return nil, fmt.Errorf("start worker: %w", err)
	}
	return &runningWorker{w: w, kill: kill}, nil
}

// stop stops the worker. hard cancels in-flight activities at once, as
// WorkerStopTimeout 0 would: they end with their work half done and
// their results, if any, lost — what a killed process leaves behind.
// Otherwise they get workerStopTimeout to finish.
func (r *runningWorker) stop(hard bool) {
	if hard {
		r.kill()
	}
	r.w.Stop()
	r.kill()
}

// RestartWorker stops the worker and starts a new one on the same
// Activities, as a deploy (hard false) or a crash (hard true) of the
// worker process would. Temporal hands the new worker what the old one
// left: workflow tasks, and activities to retry.
func (s *Stack) RestartWorker(hard bool) error {
	s.workerMu.Lock()
	defer s.workerMu.Unlock()
	if s.worker != nil {
		s.worker.stop(hard)
		s.worker = nil
	}
	w, err := s.startWorker()
	if err != nil {
		return err
	}
	s.worker = w
	s.log.Info("restarted Temporal worker", "hard", hard)
	return nil
}
