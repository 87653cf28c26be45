package openclaw

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// batchBackend counts the calls that reach a batch-reading backend; fail,
// when set, answers every call; block, when set, holds GetMany until it is
// closed.
type batchBackend struct {
	keychain.Backend
	fail  error
	block chan struct{}

	mu          sync.Mutex
	gets, batch int
}

func (*batchBackend) Name() string { return keychain.KindKeychain }

func (b *batchBackend) Get(ref keychain.Ref) ([]byte, error) {
	b.mu.Lock()
	b.gets++
	b.mu.Unlock()
	if b.fail != nil {
		return nil, b.fail
	}
	return b.Backend.Get(ref)
}

func (b *batchBackend) GetMany(refs []keychain.Ref) (map[keychain.Ref][]byte, error) {
	b.mu.Lock()
	b.batch++
	b.mu.Unlock()
	if b.block != nil {
		<-b.block
	}
	if b.fail != nil {
		return nil, b.fail
	}
	return keychain.GetMany(b.Backend, refs)
}

func TestResolveReadsOneBatch(t *testing.T) {
	mem := keychain.NewMemory()
	s, ctx := newStore(t, t.TempDir(), mem, nil)
	var ids []string
	for i := range 50 {
		k := fmt.Sprintf("KEY_%d", i)
		mustSet(t, s, ctx, k, "dev-"+k)
		mustSet(t, s, ctx.WithEnvironment(vault.Production), k, "prod-"+k)
		ids = append(ids, k, "production/"+k)
	}
	mustSet(t, s, ctx, "BINARY_KEY", "\xff\xfe")
	mustSet(t, s, ctx, "GONE_KEY", "v")
	if err := mem.Delete(keychain.Ref{Workspace: ctx.Workspace, Project: ctx.Project, Environment: ctx.Environment, Key: "GONE_KEY"}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, "BINARY_KEY", "GONE_KEY", "MISSING_KEY", "other/development/KEY_1")

	bb := &batchBackend{Backend: mem}
	resp := (&Resolver{Vault: withBackend{s, bb}, Base: ctx}).Resolve(context.Background(), Request{IDs: ids})
	if bb.batch != 1 || bb.gets != 0 {
		t.Fatalf("%d batches and %d single reads, want 1 and 0", bb.batch, bb.gets)
	}
	if len(resp.Values) != 100 || len(resp.Errors) != 4 {
		t.Fatalf("%d values, %d errors: %+v", len(resp.Values), len(resp.Errors), resp.Errors)
	}
	for i := range 50 {
		k := fmt.Sprintf("KEY_%d", i)
		if string(resp.Values[k].Bytes()) != "dev-"+k || string(resp.Values["production/"+k].Bytes()) != "prod-"+k {
			t.Fatalf("%s: wrong value from the batch", k)
		}
	}
	for id, code := range map[string]string{"BINARY_KEY": CodeInvalidValue, "GONE_KEY": CodeNotFound,
		"MISSING_KEY": CodeNotFound, "other/development/KEY_1": CodeNotFound} {
		if e := resp.Errors[id]; e.Code != code {
			t.Errorf("%s: %+v, want %s", id, e, code)
		}
	}
	if m := resp.Errors["GONE_KEY"].Message; m != `openclaw: secret "GONE_KEY" is listed in project "app" (development) but its value is missing from the keychain backend` {
		t.Errorf("GONE_KEY: %q", m)
	}
}

func TestResolveBatchBackendFailure(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx, "A_KEY", "a")
	mustSet(t, s, ctx, "B_KEY", "b")
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("%w: no answer within 2s", keychain.ErrUnavailable), CodeUnavailable},
		{keychain.ErrNoPassphrase, CodeLocked},
		{keychain.ErrBadPassphrase, CodeLocked},
	} {
		bb := &batchBackend{Backend: keychain.NewMemory(), fail: tc.err}
		resp := (&Resolver{Vault: withBackend{s, bb}, Base: ctx}).Resolve(context.Background(), Request{IDs: []string{"A_KEY", "B_KEY", "MISSING_KEY"}})
		if bb.batch != 1 || bb.gets != 0 {
			t.Errorf("%v: %d batches, %d single reads; want the backend asked once", tc.err, bb.batch, bb.gets)
		}
		for _, id := range []string{"A_KEY", "B_KEY"} {
			if e := resp.Errors[id]; e.Code != tc.code {
				t.Errorf("%v: %s: %+v", tc.err, id, e)
			}
		}
		if e := resp.Errors["MISSING_KEY"]; e.Code != CodeNotFound {
			t.Errorf("MISSING_KEY: %+v", e)
		}
	}
}

// A batch still running at the deadline gives TIMEOUT to every id it holds.
func TestResolveBatchPastDeadline(t *testing.T) {
	s, ctx := newStore(t, t.TempDir(), keychain.NewMemory(), nil)
	mustSet(t, s, ctx, "A_KEY", "a")
	bb := &batchBackend{Backend: keychain.NewMemory(), block: make(chan struct{})}
	defer close(bb.block)
	cctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	resp := (&Resolver{Vault: withBackend{s, bb}, Base: ctx}).Resolve(cctx, Request{IDs: []string{"A_KEY", "bad id"}})
	if e := resp.Errors["A_KEY"]; e.Code != CodeTimeout {
		t.Fatalf("A_KEY: %+v", e)
	}
	if e := resp.Errors["bad id"]; e.Code != CodeInvalidID {
		t.Fatalf("bad id: %+v", e)
	}
}

// A tampered item of the encrypted file fails the batch; every id is then
// read alone, so only the tampered one gets TAMPERED.
func TestResolveTamperedItemInBatch(t *testing.T) {
	home := t.TempDir()
	pass := func() ([]byte, error) { return []byte("right passphrase"), nil }
	s, ctx := newStore(t, home, nil, pass)
	mustSet(t, s, ctx, "A_KEY", "value-a")
	mustSet(t, s, ctx, "B_KEY", "value-b")
	mustSet(t, s, ctx, "C_KEY", "value-c")
	account := func(k string) string { return ctx.Workspace + "/" + ctx.Project + "/" + ctx.Environment + "/" + k }
	path := filepath.Join(home, keychain.VaultFileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vf map[string]any
	if err := json.Unmarshal(data, &vf); err != nil {
		t.Fatal(err)
	}
	items := vf["items"].(map[string]any)
	items[account("B_KEY")] = items[account("A_KEY")]
	if data, err = json.Marshal(vf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	b, err := s.Backend()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.(keychain.BatchGetter); !ok {
		t.Fatalf("the %s backend reads no batch", b.Name())
	}
	resp := (&Resolver{Vault: s, Base: ctx}).Resolve(context.Background(), Request{IDs: []string{"A_KEY", "B_KEY", "C_KEY"}})
	if e := resp.Errors["B_KEY"]; e.Code != CodeTampered {
		t.Fatalf("B_KEY: %+v", e)
	}
	if string(resp.Values["A_KEY"].Bytes()) != "value-a" || string(resp.Values["C_KEY"].Bytes()) != "value-c" {
		t.Fatalf("the untouched items were not read: %+v", resp.Errors)
	}
}
