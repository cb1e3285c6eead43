package proto

import (
	"errors"
	"fmt"
)

// Error codes carried in Response.Error.Code.
const (
	CodeNotFound    = "not_found"
	CodeConflict    = "conflict"
	CodeInvalid     = "invalid"
	CodePreflight   = "preflight"
	CodeUnsupported = "unsupported"
	CodeInternal    = "internal"
)

// Sentinel errors; a *Error matches the one of its code with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid request")
	ErrPreflight   = errors.New("preflight failed")
	ErrUnsupported = errors.New("unsupported")
)

// Error is a failure reported by the agent.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "agent: " + e.Message }

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	switch e.Code {
	case CodeNotFound:
		return target == ErrNotFound
	case CodeConflict:
		return target == ErrConflict
	case CodeInvalid:
		return target == ErrInvalid
	case CodePreflight:
		return target == ErrPreflight
	case CodeUnsupported:
		return target == ErrUnsupported
	}
	return false
}

// Errorf builds an *Error of code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError turns err into an *Error, keeping its code if it carries one.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}
