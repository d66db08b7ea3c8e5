package connectors

import (
	"fmt"
	"testing"
)

// Topic headers are not signed: a replayed body with invented topics must
// not grow the ignored-topic counters without bound.
func TestIgnoredTopicCountersAreBounded(t *testing.T) {
	t.Cleanup(func() {
		seenTopics.Lock()
		seenTopics.m = map[string]struct{}{}
		seenTopics.Unlock()
	})
	if got := counted("orders/paid"); got != "orders/paid" {
		t.Errorf("counted(orders/paid) = %q", got)
	}
	if got := counted("bad topic\n" + string(make([]byte, 100))); got != "other" {
		t.Errorf("an odd topic counted as %q, want other", got)
	}
	distinct := map[string]bool{}
	for i := range 3 * maxTopics {
		distinct[counted(fmt.Sprintf("made/up-%d", i))] = true
	}
	if len(distinct) > maxTopics+1 || !distinct["other"] {
		t.Errorf("%d distinct counter keys from %d invented topics, want at most %d and other", len(distinct), 3*maxTopics, maxTopics+1)
	}
}
