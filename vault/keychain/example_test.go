package keychain_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/The-17/agentsecrets/vault/keychain"
)

func ExampleOpen() {
	home, _ := os.MkdirTemp("", "agentsecrets-example-")
	defer os.RemoveAll(home)

	backend, err := keychain.Open(keychain.Options{
		Dir:        home,
		Kind:       keychain.KindFile, // as with AGENTSECRETS_BACKEND=file
		Passphrase: func() ([]byte, error) { return []byte("correct horse battery staple"), nil },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ref := keychain.Ref{Workspace: "acme", Project: "api", Environment: "production", Key: "STRIPE_KEY"}
	if err := backend.Set(ref, []byte("sk_live_example")); err != nil {
		fmt.Println(err)
		return
	}
	value, err := backend.Get(ref)
	fmt.Println(backend.Name(), ref.Account(), bytes.Equal(value, []byte("sk_live_example")), err)

	_ = backend.Delete(ref)
	_, err = backend.Get(ref)
	fmt.Println(errors.Is(err, keychain.ErrNotFound))
	// Output:
	// file acme/api/production/STRIPE_KEY true <nil>
	// true
}

func ExampleGetMany() {
	backend := keychain.NewMemory()
	ref := func(key string) keychain.Ref {
		return keychain.Ref{Workspace: "acme", Project: "api", Environment: "production", Key: key}
	}
	_ = backend.Set(ref("STRIPE_KEY"), []byte("sk_live_example"))
	_ = backend.Set(ref("OPENAI_KEY"), []byte("sk-example"))

	values, err := keychain.GetMany(backend, []keychain.Ref{ref("STRIPE_KEY"), ref("OPENAI_KEY"), ref("MISSING_KEY")})
	_, missing := values[ref("MISSING_KEY")]
	fmt.Println(len(values), missing, err)
	// Output:
	// 2 false <nil>
}
