// Package httpsyntax checks the pieces of an HTTP/1.1 message that a
// caller, a policy or a command line may supply, so that nothing they give
// can split a request or smuggle a header into it.
//
// Each front end validates what it receives and the transport checks again
// before anything is written to the wire; all of them use these functions.
package httpsyntax

// MaxHeaderNameLen bounds a header name.
const MaxHeaderNameLen = 256

// ValidHeaderName reports whether name is an RFC 9110 token of at most
// MaxHeaderNameLen bytes.
func ValidHeaderName[T ~string | ~[]byte](name T) bool {
	if len(name) == 0 || len(name) > MaxHeaderNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether value holds no control character but
// tab: above all no CR, LF or NUL, which would split or corrupt a message.
func ValidHeaderValue[T ~string | ~[]byte](value T) bool {
	for i := 0; i < len(value); i++ {
		if c := value[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
