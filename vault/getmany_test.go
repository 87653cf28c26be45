package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/The-17/agentsecrets/vault/keychain"
)

// countingBackend counts the reads that reach a batch-reading backend.
type countingBackend struct {
	keychain.Backend
	gets, batches atomic.Int32
}

func (c *countingBackend) Get(ref keychain.Ref) ([]byte, error) {
	c.gets.Add(1)
	return c.Backend.Get(ref)
}

func (c *countingBackend) GetMany(refs []keychain.Ref) (map[keychain.Ref][]byte, error) {
	c.batches.Add(1)
	return keychain.GetMany(c.Backend, refs)
}

func newCountingStore(t *testing.T) (*Store, Context, *countingBackend) {
	t.Helper()
	home, dir := t.TempDir(), filepath.Join(t.TempDir(), "app")
	must(t, os.Mkdir(dir, 0o700))
	b := &countingBackend{Backend: keychain.NewMemory()}
	s, err := Open(Options{Home: home, Cwd: dir, Backend: b, Getenv: func(string) string { return "" }})
	must(t, err)
	ctx, err := s.Init(InitOptions{})
	must(t, err)
	return s, ctx, b
}

// Values and GetMany read every key with one batch; Values leaves out what
// is not there, GetMany fails with the error Get gives for it.
func TestGetManyReadsOneBatch(t *testing.T) {
	s, ctx, b := newCountingStore(t)
	var keys []string
	for i := range 20 {
		k := fmt.Sprintf("KEY_%02d", i)
		must(t, s.Set(ctx, k, []byte("value-"+k)))
		keys = append(keys, k)
	}
	must(t, s.Set(ctx.WithEnvironment(Production), "PROD_ONLY", []byte("p")))
	must(t, b.Backend.Delete(ref(ctx, ctx.Environment, "KEY_07"))) // listed, value gone

	b.gets.Store(0)
	got, err := s.Values(ctx, append([]string{"NOT_SET", "PROD_ONLY", "bad name"}, keys...))
	must(t, err)
	if n := b.batches.Load(); n != 1 || b.gets.Load() != 0 {
		t.Fatalf("Values: %d batches and %d single reads, want 1 and 0", n, b.gets.Load())
	}
	if len(got) != 19 {
		t.Fatalf("Values: %d values, want the 19 set here with a value", len(got))
	}
	for _, k := range keys {
		if v, ok := got[k]; k != "KEY_07" && (!ok || string(v.Bytes()) != "value-"+k) {
			t.Fatalf("Values: %s wrong or missing", k)
		}
	}
	if _, ok := got["KEY_07"]; ok {
		t.Fatal("Values: a key whose value is missing from the backend was given a value")
	}

	ordered := []string{"KEY_19", "KEY_00", "KEY_19", "KEY_03"}
	secrets, err := s.GetMany(ctx, ordered)
	must(t, err)
	var values []string
	for _, sec := range secrets {
		values = append(values, string(sec.Bytes()))
	}
	if want := []string{"value-KEY_19", "value-KEY_00", "value-KEY_19", "value-KEY_03"}; !reflect.DeepEqual(values, want) {
		t.Fatalf("GetMany = %q, want %q", values, want)
	}

	for _, tc := range []struct {
		key  string
		want error
	}{
		{"NOT_SET", ErrNotFound},
		{"PROD_ONLY", ErrNotFound},
		{"KEY_07", ErrNotFound},
		{"bad name", ErrInvalid},
	} {
		_, err := s.GetMany(ctx, []string{"KEY_01", tc.key})
		_, getErr := s.Get(ctx, tc.key)
		if !errors.Is(err, tc.want) || err.Error() != getErr.Error() {
			t.Errorf("GetMany with %q: %v, want Get's error %v", tc.key, err, getErr)
		}
	}
}

// A store whose index names no key of the environment reads nothing.
func TestValuesOfNothingReadsNothing(t *testing.T) {
	s, ctx, b := newCountingStore(t)
	got, err := s.Values(ctx, []string{"NOT_SET"})
	if err != nil || len(got) != 0 || b.batches.Load() != 0 || b.gets.Load() != 0 {
		t.Fatalf("Values = %d values, %v; %d batches, %d reads", len(got), err, b.batches.Load(), b.gets.Load())
	}
}
