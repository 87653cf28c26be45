package vault

import (
	"fmt"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// killed is what a killAt backend panics with: the process dies there.
type killed struct{}

// killAt is a backend that kills the process at its nth write (Set or
// Delete): it panics just before that write, or just after it when after
// is true, so that nothing the writer meant to do next (another value, the
// index) happens. Index files are replaced atomically, so every point a
// SIGKILL can hit is one of these.
type killAt struct {
	keychain.Backend
	n     int
	after bool
}

func (k *killAt) write(do func() error) error {
	k.n--
	if k.n > 0 {
		return do()
	}
	if !k.after {
		panic(killed{})
	}
	if err := do(); err != nil {
		return err
	}
	panic(killed{})
}

func (k *killAt) Set(r keychain.Ref, v []byte) error {
	return k.write(func() error { return k.Backend.Set(r, v) })
}

func (k *killAt) Delete(r keychain.Ref) error {
	return k.write(func() error { return k.Backend.Delete(r) })
}

// runUntilKilled runs op and reports whether it ran to the end.
func runUntilKilled(op func() error) (done bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(killed); !ok {
				panic(r)
			}
			done, err = false, nil
		}
	}()
	return true, op()
}

// valuesOf returns every value of the store's only project by "env/KEY",
// the project's context, and checks that every listed key is readable and
// that every fingerprint the index records is that of the value it lists.
func valuesOf(t *testing.T, s *Store, ctx Context) (map[string]string, Context) {
	t.Helper()
	ps, err := s.Projects()
	must(t, err)
	if len(ps) != 1 {
		t.Fatalf("projects = %+v, want one", ps)
	}
	ctx = ctx.WithProject(ps[0].Name)
	b, err := s.Backend()
	must(t, err)
	out := map[string]string{}
	for _, env := range Environments {
		names, err := s.Names(ctx.WithEnvironment(env))
		must(t, err)
		for _, k := range names {
			v, err := s.Get(ctx.WithEnvironment(env), k)
			if err != nil {
				t.Errorf("%s/%s is listed but unreadable: %v", env, k, err)
				continue
			}
			out[env+"/"+k] = string(v.Bytes())
			e, err := s.Entry(ctx.WithEnvironment(env), k)
			must(t, err)
			fp, err := s.fingerprint(b, nil, ctx.Workspace, v.Bytes())
			must(t, err)
			if e.Fingerprint != "" && e.Fingerprint != fp {
				t.Errorf("%s/%s: the index records the fingerprint of another value", env, k)
			}
		}
	}
	return out, ctx
}

// TestKilledWriteNeverReportsSame kills each writer of values (set over an
// existing value, set of a new key, environment copy, project rename) at
// every write it makes, and checks what is left: each value is the old or
// the new one, every listed key is readable, and diff never reports "same"
// for two values that differ (a key whose fingerprint was not written yet
// is reported as differing).
func TestKilledWriteNeverReportsSame(t *testing.T) {
	setup := func(t *testing.T, s *Store, ctx Context) {
		for _, kv := range []struct{ env, key, value string }{
			{Development, "A_KEY", "new"}, {Development, "B_KEY", "b-new"}, {Development, "C_KEY", "c"},
			{Staging, "A_KEY", "old"}, {Staging, "B_KEY", "b-old"},
			{Production, "A_KEY", "old"}, {Production, "B_KEY", "b-old"}, {Production, "C_KEY", "c"},
		} {
			must(t, s.Set(ctx.WithEnvironment(kv.env), kv.key, []byte(kv.value)))
		}
	}
	renamed := "renamed"
	ops := []struct {
		name string
		op   func(s *Store, ctx Context) error
	}{
		{"set over a value", func(s *Store, ctx Context) error {
			return s.Set(ctx.WithEnvironment(Staging), "A_KEY", []byte("new"))
		}},
		{"set a new key", func(s *Store, ctx Context) error {
			return s.Set(ctx.WithEnvironment(Staging), "C_KEY", []byte("c"))
		}},
		{"copy", func(s *Store, ctx Context) error {
			return second(s.Copy(ctx, Development, Staging))
		}},
		{"rename project", func(s *Store, ctx Context) error {
			return s.UpdateProject(ctx.Project, ProjectUpdate{Name: &renamed})
		}},
	}
	for _, tc := range ops {
		s, ctx := newTestStore(t)
		setup(t, s, ctx)
		must(t, tc.op(s, ctx))
		want, _ := valuesOf(t, s, ctx)
		done := false
		for n := 1; !done; n++ {
			for _, after := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/killed %s write %d", tc.name, map[bool]string{false: "before", true: "after"}[after], n), func(t *testing.T) {
					s, ctx := newTestStore(t)
					setup(t, s, ctx)
					old, _ := valuesOf(t, s, ctx)
					s.backend = &killAt{Backend: s.backend, n: n, after: after}
					ran, err := runUntilKilled(func() error { return tc.op(s, ctx) })
					must(t, err)
					done = done || ran

					// What the next process finds.
					s2, err := Open(s.opts)
					must(t, err)
					got, pctx := valuesOf(t, s2, ctx)
					for _, k := range sortedKeys(merge(old, want)) {
						g, gok := got[k]
						o, ook := old[k]
						w, wok := want[k]
						if (gok != ook || g != o) && (gok != wok || g != w) {
							t.Errorf("%s = %q (%v), neither the old %q (%v) nor the new %q (%v)", k, g, gok, o, ook, w, wok)
						}
					}
					for i, from := range Environments {
						for _, to := range Environments[i+1:] {
							d, err := s2.Diff(pctx, from, to)
							must(t, err)
							for _, k := range d.Same {
								if got[from+"/"+k] != got[to+"/"+k] {
									t.Errorf("diff %s %s reports %s the same, but its values differ", from, to, k)
								}
							}
						}
					}
				})
			}
			if n > 50 {
				t.Fatalf("%s: never ran to the end", tc.name)
			}
		}
	}
}

// merge returns the union of a and b (b wins).
func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestDiffNeverSameWithoutFingerprints: two writes killed on both sides
// of a diff leave two keys without a fingerprint; diff cannot compare
// them and reports them as differing, not the same.
func TestDiffNeverSameWithoutFingerprints(t *testing.T) {
	s, ctx := newTestStore(t)
	stg, prod := ctx.WithEnvironment(Staging), ctx.WithEnvironment(Production)
	must(t, s.Set(stg, "A_KEY", []byte("old")))
	must(t, s.Set(prod, "A_KEY", []byte("old")))
	mem := s.backend
	for _, kv := range []struct {
		ctx   Context
		value string
	}{{stg, "staging value"}, {prod, "production value"}} {
		s.backend = &killAt{Backend: mem, n: 1, after: true}
		if ran, _ := runUntilKilled(func() error { return s.Set(kv.ctx, "A_KEY", []byte(kv.value)) }); ran {
			t.Fatal("the set was not killed")
		}
	}
	s2, err := Open(s.opts)
	must(t, err)
	d, err := s2.Diff(ctx, Staging, Production)
	must(t, err)
	if got := fmt.Sprint(d.Differ, d.Same, d.InSync()); got != "[A_KEY] [] false" {
		t.Fatalf("Diff differ, same, in sync = %s, want [A_KEY] [] false", got)
	}
}

// TestFailedCopyKeepsUntriedFingerprints: a copy whose backend refuses a
// value leaves the key it stopped at without a fingerprint (the value may
// or may not be there), and the keys it did not try yet with theirs.
func TestFailedCopyKeepsUntriedFingerprints(t *testing.T) {
	s, ctx := newTestStore(t)
	for _, env := range []string{Staging, Production} {
		must(t, s.Set(ctx.WithEnvironment(env), "A_KEY", []byte("a-old")))
		must(t, s.Set(ctx.WithEnvironment(env), "B_KEY", []byte("b-old")))
	}
	must(t, s.Set(ctx, "A_KEY", []byte("a-new")))
	must(t, s.Set(ctx, "B_KEY", []byte("b-new")))
	s.backend = failSet{Backend: s.backend, bad: ref(ctx, Staging, "A_KEY")}
	if _, err := s.Copy(ctx, Development, Staging); err == nil {
		t.Fatal("Copy succeeded, want an error")
	}
	d, err := s.Diff(ctx, Staging, Production)
	must(t, err)
	if got := fmt.Sprint(d.Differ, d.Same); got != "[A_KEY] [B_KEY]" {
		t.Fatalf("Diff differ, same = %s, want [A_KEY] [B_KEY]", got)
	}
}
