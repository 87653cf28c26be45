//go:build unix

package install

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkOwner refuses, when running as root, a file that belongs to another
// user, or for a file yet to be created the nearest existing folder above
// it: under sudo keeping HOME, the file written (0600, owned by root)
// would be one the user's client cannot read.
func checkOwner(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for p := path; ; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
				return fmt.Errorf("install: %s belongs to user %d: %w", p, st.Uid, ErrOtherUser)
			}
			return nil
		}
		if filepath.Dir(p) == p {
			return nil
		}
	}
}
