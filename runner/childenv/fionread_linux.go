package childenv

import "golang.org/x/sys/unix"

// fionread is FIONREAD, which Linux also names TIOCINQ.
const fionread = unix.TIOCINQ
