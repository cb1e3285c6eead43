package api

import (
	"fmt"
	"net/http"
)

// Code is a machine-readable error class. Clients switch on it; the
// Message is for humans.
type Code string

const (
	CodeInvalidArgument  Code = "invalid_argument"   // 400: the request is wrong; fix it
	CodePermissionDenied Code = "permission_denied"  // 403: caller may not use the daemon
	CodeNotFound         Code = "not_found"          // 404: no such VM/image/kernel/route
	CodeMethodNotAllowed Code = "method_not_allowed" // 405
	CodeConflict         Code = "conflict"           // 409: exists already, or in use
	CodeTooLarge         Code = "too_large"          // 413: request body over the limit
	CodeInternal         Code = "internal"           // 500: a daemon bug or host failure
	CodeUnavailable      Code = "unavailable"        // 501/503: not possible now or not implemented yet
)

// HTTPStatus is the HTTP status the daemon answers with for c.
func (c Code) HTTPStatus() int {
	switch c {
	case CodeInvalidArgument:
		return http.StatusBadRequest
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// CodeForStatus is the inverse of HTTPStatus for responses that carry no
// JSON error body (a proxy, a crashed handler).
func CodeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidArgument
	case http.StatusUnauthorized, http.StatusForbidden:
		return CodePermissionDenied
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusConflict:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusNotImplemented, http.StatusServiceUnavailable:
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

// Error is the error body of every non-2xx response, wrapped as
// {"error": {...}}. It is also the Go error the client returns for it.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Hint says what to do about it, when the daemon knows.
	Hint string `json:"hint,omitempty"`
	// Status is the HTTP status when set explicitly (e.g. 501 for a route
	// that exists but is not implemented yet); 0 means Code.HTTPStatus().
	Status int `json:"-"`
}

// ErrorBody is the JSON envelope of an Error.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + ": " + e.Hint
}

// HTTPStatus is the status to answer with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.HTTPStatus()
}

// WithHint returns a copy of e with the hint set.
func (e *Error) WithHint(hint string) *Error {
	c := *e
	c.Hint = hint
	return &c
}
