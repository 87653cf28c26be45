package install

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Client names.
const (
	Claude = "claude" // Claude Desktop
	Cursor = "cursor" // Cursor
)

// Clients lists every supported client.
var Clients = []string{Claude, Cursor}

// Env is where config paths are resolved from.
type Env struct {
	// GOOS is the operating system; "" means runtime.GOOS.
	GOOS string
	// Getenv reads HOME, USERPROFILE, APPDATA and XDG_CONFIG_HOME; nil
	// means os.Getenv.
	Getenv func(string) string
	// UserHomeDir is used when the environment names no home; nil means
	// os.UserHomeDir.
	UserHomeDir func() (string, error)
}

func (e Env) goos() string {
	if e.GOOS == "" {
		return runtime.GOOS
	}
	return e.GOOS
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

// home is $HOME (%USERPROFILE% first on Windows), else the user database.
func (e Env) home() (string, error) {
	keys := []string{"HOME"}
	if e.goos() == "windows" {
		keys = []string{"USERPROFILE", "HOME"}
	}
	for _, k := range keys {
		if h := e.getenv(k); h != "" {
			return h, nil
		}
	}
	userHome := e.UserHomeDir
	if userHome == nil {
		userHome = os.UserHomeDir
	}
	h, err := userHome()
	if err != nil || h == "" {
		return "", fmt.Errorf("install: cannot find the home directory: set HOME")
	}
	return h, nil
}

// ConfigPath returns the MCP configuration file of client.
func ConfigPath(client string, env Env) (string, error) {
	home, err := env.home()
	if err != nil {
		return "", err
	}
	switch client {
	case Cursor:
		return filepath.Join(home, ".cursor", "mcp.json"), nil
	case Claude:
		return filepath.Join(claudeDir(env, home), "claude_desktop_config.json"), nil
	}
	return "", fmt.Errorf("install: unknown client %q (want claude or cursor)", client)
}

func claudeDir(env Env, home string) string {
	switch env.goos() {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "Claude")
	case "windows":
		if appData := env.getenv("APPDATA"); appData != "" {
			return filepath.Join(appData, "Claude")
		}
		return filepath.Join(home, "AppData", "Roaming", "Claude")
	}
	if xdg := env.getenv("XDG_CONFIG_HOME"); filepath.IsAbs(xdg) {
		return filepath.Join(xdg, "Claude")
	}
	return filepath.Join(home, ".config", "Claude")
}
