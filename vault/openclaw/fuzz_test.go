package openclaw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

// FuzzParseRequest: any input is either one of the four request errors, on
// one line, or a request whose response names every distinct id once, as
// valid JSON.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"protocolVersion":1,"provider":"agentsecrets","ids":["A_KEY","production/B_KEY","app/staging/C_KEY"]}`,
		`{"protocolVersion":1,"ids":[]}`, `{"protocolVersion":2,"ids":[]}`, `{"ids":[1]}`, ``, `null`, `[`,
		`{"protocolVersion":1,"ids":["\u0000","../../etc","a/b/c/d"]}`,
	} {
		f.Add([]byte(s))
	}
	v := stubVault{"A_KEY": "a", "B_KEY": "b"}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParseRequest(data)
		if err != nil {
			n := 0
			for _, s := range []error{ErrEmptyRequest, ErrRequestTooLarge, ErrMalformedRequest, ErrUnsupportedVersion} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q", err)
			}
			return
		}
		r := &Resolver{Vault: v, Base: vault.Context{Workspace: "default", Project: "app", Environment: "development"}}
		resp := r.Resolve(context.Background(), req)
		distinct := map[string]bool{}
		for _, id := range req.IDs {
			distinct[id] = true
			_, inV := resp.Values[id]
			_, inE := resp.Errors[id]
			if inV == inE {
				t.Fatalf("id %q in values %v, in errors %v", id, inV, inE)
			}
		}
		if resp.Len() != len(distinct) {
			t.Fatalf("%d answers for %d ids", resp.Len(), len(distinct))
		}
		var b bytes.Buffer
		if _, err := resp.WriteTo(&b); err != nil || !json.Valid(b.Bytes()) {
			t.Fatalf("bad output %q", b.String())
		}
	})
}

// stubVault answers from a map in any context: only for fuzzing the
// protocol and for values the vault refuses to store; resolution itself is
// tested against a real vault.Store.
type stubVault map[string]string

func (s stubVault) Names(vault.Context) ([]string, error) {
	var names []string
	for k := range s {
		names = append(names, k)
	}
	return names, nil
}

func (s stubVault) Backend() (keychain.Backend, error) { return stubBackend(s), nil }

type stubBackend map[string]string

func (stubBackend) Name() string { return "memory" }

func (s stubBackend) Get(ref keychain.Ref) ([]byte, error) {
	v, ok := s[ref.Key]
	if !ok {
		return nil, keychain.ErrNotFound
	}
	return []byte(v), nil
}

func (stubBackend) Set(keychain.Ref, []byte) error { return errors.ErrUnsupported }
func (stubBackend) Delete(keychain.Ref) error      { return errors.ErrUnsupported }
