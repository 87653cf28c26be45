package vault_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
)

func ExampleStore() {
	root, _ := os.MkdirTemp("", "vault-example")
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "billing")
	_ = os.Mkdir(dir, 0o700)

	s, _ := vault.Open(vault.Options{Home: filepath.Join(root, "home"), Cwd: dir, Backend: keychain.NewMemory(),
		Getenv: func(string) string { return "" }})
	ctx, _ := s.Init(vault.InitOptions{})
	_ = s.Set(ctx, "STRIPE_KEY", []byte("sk_test_123"))

	v, _ := s.Get(ctx, "STRIPE_KEY")
	fmt.Println(ctx.Project, ctx.Environment, v) // a Secret prints as [secret]
	keys, _ := s.List(ctx)
	fmt.Println(keys[0].Name, keys[0].Environments)
	// Output:
	// billing development [secret]
	// STRIPE_KEY map[development:true production:false staging:false]
}
