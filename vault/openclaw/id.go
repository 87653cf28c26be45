package openclaw

import (
	"fmt"
	"strings"

	"github.com/The-17/agentsecrets/vault"
)

// MaxIDLen is the longest exec id OpenClaw accepts.
const MaxIDLen = 256

// ID is a parsed exec id. Project and Environment are "" when the id does not
// name them and the active ones apply.
type ID struct {
	Project     string
	Environment string
	Key         string
}

// ParseID parses KEY, ENV/KEY or PROJECT/ENV/KEY. The id must first match
// OpenClaw's exec id pattern ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$; then each
// part is checked as the vault checks it. Errors name the id, never a value.
func ParseID(id string) (ID, error) {
	if err := checkOpenClawID(id); err != nil {
		return ID{}, err
	}
	parts := strings.Split(id, "/")
	var out ID
	switch len(parts) {
	case 1:
		out.Key = parts[0]
	case 2:
		out.Environment, out.Key = parts[0], parts[1]
	case 3:
		out.Project, out.Environment, out.Key = parts[0], parts[1], parts[2]
	default:
		return ID{}, fmt.Errorf("openclaw: id %q has %d parts; use KEY, ENV/KEY or PROJECT/ENV/KEY", id, len(parts))
	}
	if out.Project != "" || len(parts) == 3 {
		if err := vault.ValidateProjectName(out.Project); err != nil {
			return ID{}, fmt.Errorf("openclaw: id %q: invalid project name %q (1-64 letters, digits, '.', '_' or '-')", id, out.Project)
		}
	}
	if out.Environment != "" || len(parts) >= 2 {
		if err := vault.ValidateEnvironment(out.Environment); err != nil {
			return ID{}, fmt.Errorf("openclaw: id %q: unknown environment %q (development, staging or production)", id, out.Environment)
		}
	}
	if err := vault.ValidateKeyName(out.Key); err != nil {
		return ID{}, fmt.Errorf("openclaw: id %q: invalid key name %q (UPPER_SNAKE_CASE)", id, out.Key)
	}
	return out, nil
}

// checkOpenClawID applies ^[A-Za-z0-9][A-Za-z0-9._:/-]{0,255}$.
func checkOpenClawID(id string) error {
	if id == "" {
		return fmt.Errorf("openclaw: empty id")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("openclaw: id of %d bytes, longer than %d", len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("openclaw: id %q must start with a letter or digit", id)
		}
		if !alnum && !strings.ContainsRune("._:/-", rune(c)) {
			return fmt.Errorf("openclaw: id %q has a character outside A-Z a-z 0-9 . _ : / -", id)
		}
	}
	return nil
}

// String gives the id back in its shortest form.
func (id ID) String() string {
	switch {
	case id.Project != "":
		return id.Project + "/" + id.Environment + "/" + id.Key
	case id.Environment != "":
		return id.Environment + "/" + id.Key
	}
	return id.Key
}
