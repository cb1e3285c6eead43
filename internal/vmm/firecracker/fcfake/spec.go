package fcfake

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// specYAML is the official Firecracker v1.16.1 OpenAPI 2 description,
// copied verbatim (Apache-2.0) from the Firecracker repository at that tag.
// The request schemas are derived from it at run time, never hand-copied.
//
//go:embed firecracker-v1.16.1.yaml
var specYAML []byte

// swagger is the part of an OpenAPI 2 document the fake needs.
type swagger struct {
	Info struct {
		Version string `yaml:"version"`
	} `yaml:"info"`
	Paths map[string]map[string]struct {
		Parameters []struct {
			Name   string         `yaml:"name"`
			In     string         `yaml:"in"`
			Schema map[string]any `yaml:"schema"`
		} `yaml:"parameters"`
	} `yaml:"paths"`
	Definitions map[string]any `yaml:"definitions"`
}

// Op is one method+path of the API, e.g. PUT /drives/{drive_id}.
type Op struct {
	Method   string // upper case
	Template string // path with {param} segments
	body     *jsonschema.Schema
	bodyKey  string // location of the body schema in the compiled document
}

// HasBody reports whether the operation takes a JSON body.
func (o *Op) HasBody() bool { return o.bodyKey != "" }

// Spec is the API surface of one Firecracker version, with a JSON Schema
// validator for the body of every operation that takes one.
type Spec struct {
	Version string
	ops     []*Op
}

// DefaultSpec parses the embedded v1.16.1 description.
func DefaultSpec() (*Spec, error) { return LoadSpec(specYAML) }

// LoadSpec converts an OpenAPI 2 document into validators. Every object
// schema gets additionalProperties:false (Firecracker deserialises with
// serde's deny_unknown_fields) unless the document says otherwise.
//
// yaml.v3 decodes the unquoted `Off` of the logger level enum as the string
// "Off" when the target is `any` (YAML 1.1 booleans only apply to typed bool
// targets); TestSpecLoggerOffIsAString guards this.
func LoadSpec(doc []byte) (*Spec, error) {
	var sw swagger
	if err := yaml.Unmarshal(doc, &sw); err != nil {
		return nil, fmt.Errorf("parsing OpenAPI document: %w", err)
	}
	defs := map[string]any{}
	for name, d := range sw.Definitions {
		defs[name] = strictify(d)
	}
	// PATCH /machine-config takes a MachineConfigUpdate in Firecracker (all
	// fields optional) although the document points it at
	// MachineConfiguration, whose vcpu_count and mem_size_mib are required.
	if mc, ok := defs["MachineConfiguration"].(map[string]any); ok {
		upd := map[string]any{}
		for k, v := range mc {
			if k != "required" {
				upd[k] = v
			}
		}
		defs["fcfakeMachineConfigurationUpdate"] = upd
	}

	s := &Spec{Version: sw.Info.Version}
	opSchemas := map[string]any{}
	var bodies []string
	paths := make([]string, 0, len(sw.Paths))
	for p := range sw.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for method, op := range sw.Paths[p] {
			o := &Op{Method: strings.ToUpper(method), Template: p}
			for _, prm := range op.Parameters {
				if prm.In != "body" || prm.Schema == nil {
					continue
				}
				sch := prm.Schema
				if o.Method == "PATCH" && p == "/machine-config" {
					sch = map[string]any{"$ref": "#/definitions/fcfakeMachineConfigurationUpdate"}
				}
				key := fmt.Sprintf("op%d", len(bodies))
				opSchemas[key] = strictify(sch)
				bodies = append(bodies, key)
				o.bodyKey = key
			}
			s.ops = append(s.ops, o)
		}
	}

	root := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"definitions": defs,
		"x-ops":       opSchemas,
	}
	// Round-trip through JSON so numbers are json.Number, as the
	// validator expects, whatever yaml.v3 produced.
	raw, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("encoding JSON schema: %w", err)
	}
	rootDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decoding JSON schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	const url = "https://fcfake.invalid/firecracker-v1.16.1.json"
	if err := c.AddResource(url, rootDoc); err != nil {
		return nil, fmt.Errorf("adding JSON schema: %w", err)
	}
	for _, o := range s.ops {
		if o.bodyKey == "" {
			continue
		}
		sch, err := c.Compile(url + "#/x-ops/" + o.bodyKey)
		if err != nil {
			return nil, fmt.Errorf("compiling schema of %s %s: %w", o.Method, o.Template, err)
		}
		o.body = sch
	}
	return s, nil
}

// strictify deep-copies an OpenAPI schema, closing objects to unknown
// fields and making integers without a minimum unsigned (Firecracker's
// fields are u8/u32/u64/usize: serde rejects negative numbers).
func strictify(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+1)
		for k, val := range x {
			out[k] = strictify(val)
		}
		if _, ok := out["properties"]; ok || out["type"] == "object" {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		if out["type"] == "integer" && out["format"] != "int32" {
			if _, set := out["minimum"]; !set {
				out["minimum"] = 0
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = strictify(val)
		}
		return out
	default:
		return v
	}
}

// Route finds the operation for a concrete request path and returns the
// values of its {param} segments.
func (s *Spec) Route(method, path string) (*Op, map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, o := range s.ops {
		if o.Method != method {
			continue
		}
		if params, ok := matchTemplate(o.Template, segs); ok {
			return o, params, true
		}
	}
	return nil, nil, false
}

func matchTemplate(tmpl string, segs []string) (map[string]string, bool) {
	tsegs := strings.Split(strings.Trim(tmpl, "/"), "/")
	if len(tsegs) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range tsegs {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			params[strings.Trim(t, "{}")] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// ValidateBody checks a raw JSON body against the operation's schema. The
// error text is what serde would roughly say: it ends up in fault_message.
func (o *Op) ValidateBody(body []byte) error {
	if o.body == nil {
		return nil
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if err := o.body.Validate(inst); err != nil {
		// Drop the "validation failed with <schema url>" headline.
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, "\n"); ok {
			msg = rest
		}
		return errors.New(strings.Join(strings.Fields(strings.ReplaceAll(msg, "- at", "at")), " "))
	}
	return nil
}
