package seal_test

import (
	"fmt"

	"github.com/The-17/agentsecrets/vault/seal"
)

func ExampleSeal() {
	salt, _ := seal.NewSalt()
	params := seal.Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: seal.KeySize} // tiny, for the example
	key, _ := seal.DeriveKey([]byte("passphrase"), salt, params)

	blob, _ := seal.Seal(key, []byte("value"), []byte("acme/api/production/STRIPE_KEY#1"))
	plaintext, err := seal.Open(key, blob, []byte("acme/api/production/STRIPE_KEY#1"))
	fmt.Println(string(plaintext), err)

	_, err = seal.Open(key, blob, []byte("acme/api/production/OTHER_KEY#1"))
	fmt.Println(err)
	// Output:
	// value <nil>
	// seal: message authentication failed
}

func ExampleSealTo() {
	pub, priv, _ := seal.GenerateKeyPair()
	blob, _ := seal.SealTo(pub, []byte("workspace key"), []byte("member 1"))
	plaintext, err := seal.OpenFrom(priv, blob, []byte("member 1"))
	fmt.Println(string(plaintext), err)
	// Output: workspace key <nil>
}
