package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Canonical is the definition as indented JSON in a stable form: keys in
// the order of the model, maps sorted, durations and shares in their
// shortest spelling, no version, and <, > and & written as they are (CEL
// is full of them). Two sources that mean the same journey have the same
// canonical JSON, so it is what versions are compared by (publish only
// when it changed) and what diffs show; Parse reads it back as an equal
// Definition.
func (d Definition) Canonical() []byte {
	d.Version = 0
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		// Only strings, numbers and the model's own marshalers are
		// involved, and none of them fails.
		panic(fmt.Sprintf("journey %s: canonical JSON: %v", d.Name, err))
	}
	return b.Bytes()
}
