package config

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// config is imported by the CLI, the daemon and most host packages, so it
// stays a leaf: the standard library and the TOML decoder only.
func TestImportsStayLeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if strings.Contains(first, ".") && path != "github.com/BurntSushi/toml" {
				t.Errorf("%s imports %s", f, path)
			}
			if first == "banger" {
				t.Errorf("%s imports banger package %s", f, path)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
