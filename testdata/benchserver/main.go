// Command benchserver is the loopback API that scripts/bench.sh times
// `agentsecrets call` and curl against, and the helper that puts a host on
// a benchmark home's allowlist (a change the CLI leaves to a human at a
// terminal).
//
// Usage:
//
//	benchserver serve [-for 10m]       print the base URL, serve until killed or the time is up
//	benchserver allowlist DIR HOST...  add hosts to the allowlist of the project in DIR
//	                                   (home from AGENTSECRETS_HOME)
//
// The server listens on 127.0.0.1 only and answers every request with a
// small JSON document saying whether an Authorization header came.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/The-17/agentsecrets/vault"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "allowlist":
		err = allowlist(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver: "+err.Error())
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchserver serve [-for DURATION] | benchserver allowlist DIR HOST...")
	os.Exit(2)
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	limit := fs.Duration("for", 10*time.Minute, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(answer), ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())
	time.AfterFunc(*limit, func() { srv.Close() })
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func answer(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"object":"balance","authorized":%t,"available":[{"amount":2000,"currency":"usd"}]}`+"\n",
		r.Header.Get("Authorization") != "")
}

func allowlist(args []string) error {
	if len(args) < 2 {
		usage()
	}
	s, err := vault.Open(vault.Options{Cwd: args[0]})
	if err != nil {
		return err
	}
	_, err = s.AllowlistAdd(args[1:])
	return err
}
