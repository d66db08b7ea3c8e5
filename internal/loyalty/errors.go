package loyalty

import (
	"errors"
	"fmt"
)

// Code classifies an error for the layers that report it (HTTP status,
// Temporal retryability) without them knowing where it came from.
type Code string

// Application error codes; the API layer maps each to exactly one HTTP status.
const (
	EInvalid  Code = "invalid"   // the caller sent something the rules reject
	ENotFound Code = "not_found" // the thing asked for does not exist
	EConflict Code = "conflict"  // concurrent change; retrying may succeed
	EInternal Code = "internal"  // everything else
)

// Error is an error with an application code and a message that is safe to
// show to the caller.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal
// for any other non-nil error and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}
