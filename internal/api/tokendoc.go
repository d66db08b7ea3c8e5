package api

import (
	"encoding/json"
	"fmt"
)

// TokensFromDocument parses the admin token secret's document
// {"tokens":["…"]}, which every function serving the API reads.
func TokensFromDocument(doc []byte) (Tokens, error) {
	var d struct {
		Tokens []string `json:"tokens"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return Tokens{}, fmt.Errorf("admin token secret: must be JSON {\"tokens\":[...]}: %w", err)
	}
	return NewTokens(d.Tokens...)
}
