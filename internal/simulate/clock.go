package simulate

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
)

// The simulated clock: a queue of things to do at simulated instants,
// run one after another on the driver's goroutine. Ties are broken by
// the order they were queued in, so a run is the same for the same
// input. Workflows (enrollments, scans, deferred steps, the sweep) are
// procs: each a goroutine that runs only while the driver has handed it
// control and hands it back when it blocks (a timer, a condition) or
// ends, so exactly one goroutine runs at any moment and nothing waits on
// the wall clock.

// clock is the simulated time and the queue.
type clock struct {
	now   time.Time
	seq   uint64
	queue items
	// back is where the running proc hands control back to the driver.
	back chan struct{}
	// stopping is set when the run ends: every blocked proc is woken to
	// return errStopped.
	stopping bool
	// idle are goroutines whose proc has ended, waiting for the next
	// (a goroutine keeps the stack it grew).
	idle []*worker
}

// worker is a goroutine that runs procs, one after another.
type worker struct {
	start chan *proc
	wake  chan struct{}
}

// item is one thing to do at an instant.
type item struct {
	at  time.Time
	seq uint64
	do  func() error
}

type items []*item

func (q items) Len() int { return len(q) }
func (q items) Less(i, j int) bool {
	if c := q[i].at.Compare(q[j].at); c != 0 {
		return c < 0
	}
	return q[i].seq < q[j].seq
}
func (q items) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *items) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *items) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return it
}

func newClock(start time.Time) *clock {
	return &clock{now: start, back: make(chan struct{})}
}

// at queues do at t (now, if t has passed).
func (c *clock) at(t time.Time, do func() error) {
	if t.Before(c.now) {
		t = c.now
	}
	c.seq++
	heap.Push(&c.queue, &item{at: t, seq: c.seq, do: do})
}

// run does everything queued before end, in order, advancing the clock;
// it stops at the first error.
func (c *clock) run(end time.Time) error {
	for c.queue.Len() > 0 && c.queue[0].at.Before(end) {
		it := heap.Pop(&c.queue).(*item)
		c.now = it.at
		if err := it.do(); err != nil {
			return err
		}
	}
	return nil
}

// errStopped ends a proc blocked when the run ends.
var errStopped = errors.New("simulation ended")

// proc is one workflow run on a goroutine of its own while it runs.
type proc struct {
	c    *clock
	id   string
	body func(p *proc) error
	// wake hands the proc control (its worker's, from its start).
	wake chan struct{}
	// started: a worker runs it; blocked: it waits for a wake (before its
	// start, at a timer or a condition); done: it returned.
	started, blocked, done bool
	err                    error
	// wait numbers the proc's blocking calls, so a timer wakes only the
	// call that started it; fired is the call whose timer fired.
	wait, fired uint64
	// signals are handlers of signals not yet handled, in arrival order;
	// woken says a wake for them is queued.
	signals []func()
	woken   bool
}

// spawn starts body on a proc of its own at now (in queue order).
func (c *clock) spawn(id string, body func(p *proc) error) *proc {
	p := &proc{c: c, id: id, body: body, blocked: true}
	c.at(c.now, p.resume)
	return p
}

// run is a worker's loop: each proc it is handed runs to its end. Even
// a proc started after the run ended runs: its body returns errStopped
// from its first call, and its start is counted.
func (w *worker) run(c *clock) {
	for p := range w.start {
		err := p.call()
		p.done, p.err = true, err
		c.idle = append(c.idle, w)
		c.back <- struct{}{}
	}
}

// call runs the proc's body; a panic in it is its failure, not the
// process's (the API serves simulations).
func (p *proc) call() (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return p.body(p)
}

// resume hands control to p until it blocks again or ends; nothing when
// it is not blocked (a wake for something it has moved on from). The
// error is the proc's failure.
func (p *proc) resume() error {
	if !p.blocked || p.done {
		return nil
	}
	p.blocked = false
	if p.started {
		p.wake <- struct{}{}
	} else {
		p.started = true
		var w *worker
		if n := len(p.c.idle); n > 0 {
			w = p.c.idle[n-1]
			p.c.idle = p.c.idle[:n-1]
		} else {
			w = &worker{start: make(chan *proc), wake: make(chan struct{})}
			go w.run(p.c)
		}
		p.wake = w.wake
		w.start <- p
	}
	<-p.c.back
	if p.done && p.err != nil && !errors.Is(p.err, errStopped) {
		return fmt.Errorf("workflow %s: %w", p.id, p.err)
	}
	return nil
}

// block hands control back until the proc is woken, then handles the
// signals that arrived. Signals that are already waiting are handled at
// once instead: as in a Temporal workflow, whose signal handlers run
// after the main code has blocked, and the code then looks again.
func (p *proc) block() error {
	if p.c.stopping {
		return errStopped
	}
	if len(p.signals) == 0 {
		p.blocked = true
		p.c.back <- struct{}{}
		<-p.wake
		if p.c.stopping {
			return errStopped
		}
	}
	for len(p.signals) > 0 {
		fn := p.signals[0]
		p.signals = p.signals[1:]
		fn()
	}
	return nil
}

// signal queues a signal's handler and wakes the proc for it.
func (p *proc) signal(handle func()) {
	p.signals = append(p.signals, handle)
	if p.woken {
		return
	}
	p.woken = true
	p.c.at(p.c.now, func() error {
		p.woken = false
		return p.resume()
	})
}

// newWait numbers a new blocking call.
func (p *proc) newWait() uint64 {
	p.wait++
	return p.wait
}

// timer wakes the blocking call id at t, if the proc is still in it.
func (p *proc) timer(id uint64, t time.Time) {
	p.c.at(t, func() error {
		if p.wait != id {
			return nil
		}
		p.fired = id
		return p.resume()
	})
}

// stop ends every proc that is still blocked, and the workers; the run
// is over.
func (c *clock) stop(procs []*proc) {
	c.stopping = true
	for _, p := range procs {
		_ = p.resume()
	}
	for _, w := range c.idle {
		close(w.start)
	}
	c.idle = nil
}
