package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"banger/internal/api"
	"banger/internal/store"
	"banger/internal/vmm"
)

// maxBody bounds every request body; requests are small JSON documents.
const maxBody = 1 << 20

// decodeJSON reads exactly one JSON object from r's body into v, refusing
// unknown fields, trailing data and bodies over maxBody. Its *api.Error
// says what is wrong in terms a client can fix.
func decodeJSON(r *http.Request, v any) *api.Error {
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	if err == nil {
		return nil
	}
	var (
		maxErr  *http.MaxBytesError
		synErr  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return api.Errorf(api.CodeTooLarge, "request body is larger than %d bytes", maxErr.Limit)
	case errors.Is(err, io.EOF):
		return api.Errorf(api.CodeInvalidArgument, "request body is empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return api.Errorf(api.CodeInvalidArgument, "request body is truncated JSON")
	case errors.As(err, &synErr):
		return api.Errorf(api.CodeInvalidArgument, "request body is malformed JSON at byte %d: %v", synErr.Offset, err)
	case errors.As(err, &typeErr):
		return api.Errorf(api.CodeInvalidArgument, "request field %q must be %s, not JSON %s", typeErr.Field, typeErr.Type, typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return api.Errorf(api.CodeInvalidArgument, "request has unknown field %s", field)
	case errors.Is(err, errTrailing):
		return api.Errorf(api.CodeInvalidArgument, "request body has data after the JSON object")
	default:
		return api.Errorf(api.CodeInvalidArgument, "reading request body: %v", err)
	}
}

var errTrailing = errors.New("trailing data")

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		// Only programming errors (unencodable types) get here.
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, `{"error":{"code":"internal","message":%q}}`+"\n", "encoding response: "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *api.Error) {
	writeJSON(w, e.HTTPStatus(), api.ErrorBody{Error: e})
}

// errorFor turns an error from a collaborator into the API's answer. An
// *api.Error anywhere in the chain wins; known sentinels get their code and
// the full wrapped message; anything else is internal.
func errorFor(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	code := api.CodeInternal
	hint := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		code = api.CodeNotFound
	case errors.Is(err, ErrVMRunning):
		code, hint = api.CodeConflict, "stop it first, or remove it anyway with --force"
	case errors.Is(err, store.ErrConflict):
		code = api.CodeConflict
	case errors.Is(err, store.ErrExhausted):
		code, hint = api.CodeUnavailable, "remove unused VMs or widen network.subnet in the config"
	case errors.Is(err, vmm.ErrInvalidSpec):
		code = api.CodeInvalidArgument
	case errors.Is(err, vmm.ErrUnavailable):
		code, hint = api.CodeUnavailable, "run `banger doctor` to see what this host lacks"
	}
	return &api.Error{Code: code, Message: err.Error(), Hint: hint}
}

// statusRecorder captures what the mux's own 404/405/redirect handlers
// write, so unmatched requests can be answered in JSON like every other.
type statusRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *statusRecorder) Header() http.Header { return r.header }
func (r *statusRecorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// jsonMux answers requests no route matches with a JSON 404/405.
func jsonMux(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			writeError(w, &api.Error{Code: api.CodeNotFound, Message: fmt.Sprintf("no API route %s %s", r.Method, r.URL.Path),
				Hint: "the daemon and the CLI may be different banger versions: compare `banger version`"})
		case http.StatusMethodNotAllowed:
			allow := rec.header.Get("Allow")
			w.Header().Set("Allow", allow)
			writeError(w, &api.Error{Code: api.CodeMethodNotAllowed, Message: fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)})
		default:
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			w.Write(rec.body.Bytes())
		}
	})
}
