package rules

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// facts returns every fact of Env as rule authors write it.
func facts(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + f.Tag.Get("expr")
		if f.Type.Kind() == reflect.Struct {
			out = append(out, facts(f.Type, name+".")...)

			continue
		}
		out = append(out, name)
	}

	return out
}

// TestDocumentedFacts checks that the package doc and docs/rules.md
// document every fact of Env.
func TestDocumentedFacts(t *testing.T) {
	for _, path := range []string{"doc.go", "../docs/rules.md"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}

		for _, fact := range facts(reflect.TypeFor[Env](), "") {
			if !strings.Contains(string(data), fact+" ") &&
				!strings.Contains(string(data), "`"+fact+"`") {
				t.Errorf("%s does not document %s", path, fact)
			}
		}
	}
}
