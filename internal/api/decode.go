package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// decodeObject decodes body, one JSON object, into v: a field v does not
// have, or anything after the object, is an error (the caller answers 400
// naming the body). Without the second rule `{…} {…}` or `{…}garbage`
// would pass as its first object.
func decodeObject(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
