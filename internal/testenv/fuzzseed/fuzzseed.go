// Package fuzzseed keeps the committed seed corpora of the native fuzz
// targets (testdata/fuzz/<FuzzName>/seed-*) equal to the inputs the
// package's tests use, the way golden files are kept: a test lists the
// seeds and calls Check, which fails when the files differ and rewrites
// them under -update-seeds. Files the fuzzer saved itself (crashers, named
// by their hash) are left alone: they stay as regression seeds.
package fuzzseed

import (
	"bytes"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/*/seed-* from the seeds the tests list")

// MaxFileBytes bounds one seed file: the fuzzer mutates every seed, and
// large inputs make each execution slow and the repository heavy.
const MaxFileBytes = 16 << 10

// prefix marks the files Check owns.
const prefix = "seed-"

// validName keeps seed names usable as file names everywhere.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Seed is one named input of a fuzz target: Values are the arguments of its
// fuzz function after *testing.T, in order.
type Seed struct {
	Name   string
	Values []any
}

// New returns a Seed; it reads better than a composite literal in tables.
func New(name string, values ...any) Seed { return Seed{Name: name, Values: values} }

// Check compares testdata/fuzz/<target>/seed-* with seeds, or rewrites them
// when the test runs with -update-seeds.
func Check(t testing.TB, target string, seeds []Seed) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	want := make(map[string][]byte, len(seeds))
	for _, s := range seeds {
		if !validName.MatchString(s.Name) {
			t.Fatalf("seed name %q must match %s", s.Name, validName)
		}
		if _, dup := want[prefix+s.Name]; dup {
			t.Fatalf("seed name %q is used twice", s.Name)
		}
		b, err := Marshal(s.Values...)
		if err != nil {
			t.Fatalf("seed %s: %v", s.Name, err)
		}
		if len(b) > MaxFileBytes {
			t.Fatalf("seed %s is %d bytes; keep seeds under %d", s.Name, len(b), MaxFileBytes)
		}
		want[prefix+s.Name] = b
	}

	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var have []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			have = append(have, e.Name())
		}
	}

	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range have {
			if _, ok := want[name]; !ok {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}

	for _, name := range have {
		if _, ok := want[name]; !ok {
			t.Errorf("%s is no longer a seed; run go test -run %s -update-seeds", filepath.Join(dir, name), t.Name())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case os.IsNotExist(err):
			t.Errorf("%s is missing; run go test -run %s -update-seeds", filepath.Join(dir, name), t.Name())
		case err != nil:
			t.Fatal(err)
		case !bytes.Equal(got, want[name]):
			t.Errorf("%s differs from the seed the test lists; run go test -run %s -update-seeds", filepath.Join(dir, name), t.Name())
		}
	}
}

// Marshal encodes values in the corpus file format go test reads
// ("go test fuzz v1" and one Go literal a line). Only the argument types
// memberflow's fuzz targets use are supported.
func Marshal(values ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		case int64, int, uint64, uint, bool:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		case byte:
			fmt.Fprintf(&b, "byte(%q)\n", v)
		default:
			return nil, fmt.Errorf("fuzz corpus value of type %T is not supported", v)
		}
	}
	return b.Bytes(), nil
}
