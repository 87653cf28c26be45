//go:build windows

package proxy

import (
	"testing"
	"time"
)

// cpuTime is not measured on Windows: it is 0, and reportCPU reports
// nothing.
func cpuTime(*testing.B) time.Duration { return 0 }
