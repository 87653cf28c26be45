package openclaw_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/vault/keychain"
	"github.com/The-17/agentsecrets/vault/openclaw"
)

func Example() {
	home, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(home)
	store, _ := vault.Open(vault.Options{Home: home, Cwd: home, Backend: keychain.NewMemory()})
	_ = store.CreateProject("app", "")
	ctx := vault.Context{Workspace: vault.DefaultWorkspace, Project: "app", Environment: vault.Development}
	_ = store.Set(ctx, "OPENAI_KEY", []byte("sk-example"))

	req, err := openclaw.ReadRequest(strings.NewReader(`{"protocolVersion":1,"provider":"agentsecrets","ids":["OPENAI_KEY","MISSING_KEY"]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	r := &openclaw.Resolver{Vault: store, Base: ctx}
	resp := r.Resolve(context.Background(), req)
	fmt.Println(resp.Errors["MISSING_KEY"].Code)
	resp.WriteTo(os.Stdout)
	// Output:
	// NOT_FOUND
	// {"protocolVersion":1,"values":{"OPENAI_KEY":"sk-example"},"errors":{"MISSING_KEY":{"code":"NOT_FOUND","message":"openclaw: secret \"MISSING_KEY\" not found in project \"app\" (development)"}}}
}
