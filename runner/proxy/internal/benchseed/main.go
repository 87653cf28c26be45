// Command benchseed prepares an agentsecrets home for the proxy load
// benchmark (scripts/proxy-bench.sh): it initialises a project in -dir,
// stores a random BENCH_KEY and allowlists 127.0.0.1, through the vault
// API (the allowlist command needs a human at a terminal). The home, the
// backend and the passphrase come from AGENTSECRETS_HOME,
// AGENTSECRETS_BACKEND and AGENTSECRETS_PASSPHRASE.
//
// Usage:
//
//	benchseed -dir /tmp/bench/app
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/The-17/agentsecrets/vault"
)

func main() {
	dir := flag.String("dir", "", "project directory to initialise")
	flag.Parse()
	if err := seed(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "benchseed: %v\n", err)
		os.Exit(1)
	}
}

func seed(dir string) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	s, err := vault.Open(vault.Options{Cwd: dir})
	if err != nil {
		return err
	}
	ctx, err := s.Init(vault.InitOptions{Dir: dir, Project: "bench"})
	if err != nil {
		return err
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	if err := s.Set(ctx, "BENCH_KEY", []byte("sk_bench_"+hex.EncodeToString(b))); err != nil {
		return err
	}
	_, err = s.AllowlistAdd([]string{"127.0.0.1"})
	return err
}
