// Package floors holds only a test: it checks the import floors of
// docs/DESIGN.md §3 over the whole module, so a wrong-way import fails CI.
// It lives in its own test-only package (nothing imports it, and it imports
// no Strata package) because the module has no root package and the check
// is about every package, not about one floor: placed in cmd/strata or
// history it would compile and run with that package's tests for no reason.
package floors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// floors is DESIGN.md §3: floor 1 is the top. A package may import packages
// on its own floor or a lower one (a larger number); a sub-package is on
// its parent's floor (history/store is on 9, api/statuspb on 3).
var floors = []struct {
	dir   string // relative to the module root
	floor int
}{
	{"cmd/strata", 1},
	{"bench", 2},
	{"api", 3},
	{"sequencer", 4},
	{"follower", 5},
	{"catchup", 6},
	{"retention", 7},
	{"proofs", 8},
	{"history", 9},
}

// engines implement the contract of their floor's parent package; anyone
// else consumes the parent's interfaces instead (DESIGN.md §3: "each package
// declares the small interfaces it consumes instead of importing whoever
// implements them"; history/doc.go: "only cmd/strata wires it"). Packages on
// the engine's own floor (history/...) may import it, and so may tests, which
// use the real engine as their fixture.
var engines = map[string]struct {
	wiredBy []string // packages outside the floor allowed to import it
}{
	"history/store":         {wiredBy: []string{"cmd/strata"}},
	"history/store/archive": {wiredBy: []string{"cmd/strata"}}, // store v2, wired by the store bench until it replaces history/store
}

// A known violation, kept visible: the test logs each one on every run and
// fails if it disappears without its entry being removed, so the list can
// only shrink. Anything not listed fails.
type known struct {
	from, to string
	test     bool // the import is in test files only
	why      string
}

var allowed = []known{
	{
		from: "api", to: "bench", test: true,
		why: "test only: api's geth-compatibility test (gethcompat_test.go) checks its " +
			"eth_getProof answers with bench.VerifyAccountResult, the client-side " +
			"verifier the proof load uses; no production code of api imports bench",
	},
}

// self is this package: test-only, imports nothing of the module, on no floor.
const self = "internal/floors"

type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// modulePackages lists the module's packages with their direct imports
// (go list ./... from the module root).
func modulePackages(t *testing.T) (module string, pkgs []pkg) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", stderrOf(err))
	}
	module, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	cmd.Dir = dir
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", stderrOf(err))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < len(floors) {
		t.Fatalf("go list found %d packages, fewer than the %d floors", len(pkgs), len(floors))
	}
	return module, pkgs
}

func stderrOf(err error) error {
	if ee, ok := err.(*exec.ExitError); ok {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

// floorOf returns the floor of a module-relative package path and the
// top-level package that puts it there.
func floorOf(rel string) (int, string, bool) {
	for _, f := range floors {
		if rel == f.dir || strings.HasPrefix(rel, f.dir+"/") {
			return f.floor, f.dir, true
		}
	}
	return 0, "", false
}

// violation is one import that breaks a rule.
type violation struct {
	from, to string
	test     bool
	rule     string
}

func (v violation) key() string { return fmt.Sprintf("%s -> %s (test %v)", v.from, v.to, v.test) }

// check applies the rules to the packages and returns every violation and
// every package that has no floor.
func check(module string, pkgs []pkg) (vs []violation, unplaced []string) {
	rel := func(path string) (string, bool) {
		if path == module {
			return "", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	for _, p := range pkgs {
		from, _ := rel(p.ImportPath)
		if from == self {
			continue
		}
		ff, fdir, ok := floorOf(from)
		if !ok {
			unplaced = append(unplaced, from)
			continue
		}
		seen := map[string]bool{}
		visit := func(imps []string, test bool) {
			for _, imp := range imps {
				to, ok := rel(imp)
				if !ok || to == from || seen[to] {
					continue // a library, the package itself (external tests), or reported
				}
				tf, tdir, ok := floorOf(to)
				if !ok {
					continue // reported as unplaced on its own
				}
				switch e, isEngine := engines[to]; {
				case tf < ff:
					seen[to] = true
					vs = append(vs, violation{from, to, test, fmt.Sprintf(
						"%s is on floor %d (%s) and imports %s on floor %d (%s), a higher floor", from, ff, fdir, to, tf, tdir)})
				case isEngine && !test && tdir != fdir && !slices.Contains(e.wiredBy, from):
					seen[to] = true
					vs = append(vs, violation{from, to, test, fmt.Sprintf(
						"%s imports the engine %s; only %s may wire it, everything else uses the interfaces %s declares",
						from, to, strings.Join(e.wiredBy, ", "), tdir)})
				}
			}
		}
		visit(p.Imports, false)
		// A package's own test files (package x) compile into it: an upward
		// import there climbs the floors too, and becomes an import cycle
		// the day the imported package needs this one. External tests
		// (package x_test) are a package of their own that drives x from
		// outside, as cmd/strata does: the follower's integration tests run
		// a sequencer and serve through api. They stand above every floor.
		visit(p.TestImports, true)
	}
	return vs, unplaced
}

// TestImportFloors fails on an import that climbs the floors of DESIGN.md
// §3 or reaches past an interface into an engine, naming both packages and
// their floors, unless it is a known violation listed above with its reason.
func TestImportFloors(t *testing.T) {
	module, pkgs := modulePackages(t)
	vs, unplaced := check(module, pkgs)
	for _, p := range unplaced {
		t.Errorf("package %s is on no floor: add it to DESIGN.md §3, the README layout and the floors table of this test", p)
	}
	used := map[string]bool{}
	for _, v := range vs {
		i := slices.IndexFunc(allowed, func(k known) bool { return k.from == v.from && k.to == v.to && k.test == v.test })
		if i < 0 {
			where := "imports"
			if v.test {
				where = "test imports"
			}
			t.Errorf("wrong-way import (%s): %s", where, v.rule)
			continue
		}
		used[v.key()] = true
		t.Logf("known violation, allowed until fixed: %s\n\twhy: %s", v.rule, allowed[i].why)
	}
	for _, k := range allowed {
		if key := (violation{k.from, k.to, k.test, ""}).key(); !used[key] {
			t.Errorf("allowed violation %s no longer occurs: remove it from the allow-list (and from the docs that name it)", key)
		}
	}
}

// TestCheckCatchesWrongWayImports runs the rules on a made-up module, so a
// change to check cannot quietly stop it from finding anything.
func TestCheckCatchesWrongWayImports(t *testing.T) {
	const m = "example.com/m"
	pkgs := []pkg{
		{ImportPath: m + "/history", Imports: []string{"context"}},
		{ImportPath: m + "/history/store", Imports: []string{m + "/history", m + "/history/replay"}},
		{ImportPath: m + "/history/replay", Imports: []string{m + "/history"}},
		{ImportPath: m + "/proofs", Imports: []string{m + "/history", m + "/api/slo"}, TestImports: []string{m + "/history/store"}},
		{ImportPath: m + "/retention", Imports: []string{m + "/history/store"}},
		{ImportPath: m + "/api", Imports: []string{m + "/proofs", m + "/api/slo"}, TestImports: []string{m + "/cmd/strata"}},
		{ImportPath: m + "/follower", Imports: []string{m + "/history"}, XTestImports: []string{m + "/follower", m + "/api", m + "/history/store"}},
		{ImportPath: m + "/api/slo"},
		{ImportPath: m + "/cmd/strata", Imports: []string{m + "/api", m + "/history/store"}},
		{ImportPath: m + "/tools/x"},
		{ImportPath: m + "/" + self, Imports: []string{m + "/cmd/strata"}},
	}
	vs, unplaced := check(m, pkgs)
	var got []string
	for _, v := range vs {
		got = append(got, v.key())
	}
	want := []string{
		"proofs -> api/slo (test false)",          // floor 8 imports floor 3 (its test's history/store is a fixture)
		"retention -> history/store (test false)", // the engine, from below the wiring floor
		"api -> cmd/strata (test true)",           // an external test climbing to floor 1
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations\n got %q\nwant %q", got, want)
	}
	if !slices.Equal(unplaced, []string{"tools/x"}) {
		t.Errorf("unplaced packages: got %q, want [tools/x]", unplaced)
	}
}
