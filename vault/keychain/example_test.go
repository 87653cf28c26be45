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
