//go:build unix

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCallBodyFileIsBounded: --body @file reads at most maxBody+1 bytes, as
// --body - does, so a FIFO or device that never ends is refused rather
// than read until memory runs out.
func TestCallBodyFileIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t)
	fifo := filepath.Join(t.TempDir(), "body")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}
	// Opened read-write, the FIFO has a writer for as long as the test
	// runs: its reader never sees the end.
	w, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Skip(err)
	}
	defer w.Close()
	go w.Write(bytes.Repeat([]byte("a"), maxBody+1))
	cmd := sb.command("", "call", "--url", "http://127.0.0.1:1/", "-X", "POST", "--body", "@"+fifo)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("--body @FIFO is read without a bound")
	}
	if code := cmd.ProcessState.ExitCode(); code != ExitUsage || !strings.Contains(stderr.String(), "larger than") {
		t.Errorf("exit %d, stderr %q; want exit %d and the size limit", code, stderr.String(), ExitUsage)
	}
}
