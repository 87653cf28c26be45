package cli

import (
	"fmt"
	"slices"
	"strings"
)

// controlVars are environment variables that decide which program,
// library or startup code a command (or a program it starts) runs: the
// dynamic loader's, the shells', the interpreters' and the tools that run
// a helper (an editor, a pager, an askpass, git's configuration), and the
// build tools' flags that load an agent or a wrapper (GOFLAGS -toolexec,
// -javaagent in JAVA_OPTS, a rustc wrapper, .NET startup hooks).
var controlVars = []string{
	"PATH", "PATHEXT", "COMSPEC", "HOME", "XDG_CONFIG_HOME", "SHELL", "ZDOTDIR",
	"IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS0", "PS1", "PS2", "PS4", "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE",
	"NODE_OPTIONS", "NODE_PATH", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONHOME", "PYTHONWARNINGS",
	"PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB", "RUBYOPT", "RUBYLIB", "LUA_INIT", "PHPRC",
	"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "CLASSPATH", "RUSTC_WRAPPER", "RUSTC",
	"EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER", "LESSOPEN", "LESSCLOSE",
	"SSH_ASKPASS", "SUDO_ASKPASS", "GCONV_PATH", "OPENSSL_CONF",
	"GIT_ASKPASS", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_EXTERNAL_DIFF",
	"GIT_PAGER", "GIT_EDITOR", "GIT_PROXY_COMMAND", "GIT_TEMPLATE_DIR",
	"GOFLAGS", "GOTOOLCHAIN", "DOTNET_STARTUP_HOOKS", "JAVA_OPTS", "GRADLE_OPTS", "MAVEN_OPTS",
	"CARGO_BUILD_RUSTC", "CARGO_BUILD_RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
	"R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER",
}

// controlPrefixes are families of such variables: the dynamic loaders'
// (LD_PRELOAD, LD_LIBRARY_PATH, DYLD_INSERT_LIBRARIES, ...), git's
// configuration (GIT_CONFIG_GLOBAL, GIT_CONFIG_KEY_0, ...) and npm's
// (NPM_CONFIG_SCRIPT_SHELL, NPM_CONFIG_NODE_OPTIONS, ...).
var controlPrefixes = []string{"LD_", "DYLD_", "GIT_CONFIG", "NPM_CONFIG_"}

// isControlVar reports whether a variable named name decides what code a
// command runs.
func isControlVar(name string) bool {
	if slices.Contains(controlVars, name) {
		return true
	}
	if strings.HasPrefix(name, "CARGO_TARGET_") && (strings.HasSuffix(name, "_RUNNER") || strings.HasSuffix(name, "_LINKER")) {
		return true // cargo runs the program it names for a target
	}
	return slices.ContainsFunc(controlPrefixes, func(p string) bool { return strings.HasPrefix(name, p) })
}

// checkOverrides refuses to inject a key that would replace a control
// variable of the command unless allowed names it, and otherwise warns of
// each one allowed. Key names are no secret; the error names them.
func (f *Factory) checkOverrides(names, allowed []string) error {
	var control, refused []string
	for _, k := range names {
		if isControlVar(k) {
			control = append(control, k)
			if !slices.Contains(allowed, k) {
				refused = append(refused, k)
			}
		}
	}
	if len(refused) > 0 {
		return newError(ExitUsage,
			"leave them out with --only, rename them, or if the command must get them: agentsecrets env --allow-override "+strings.Join(control, ",")+" -- COMMAND",
			"the keys %s would replace the command's variables of those names, which decide what code it runs; nothing was run",
			strings.Join(refused, ", "))
	}
	for _, k := range control {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: %s replaces the command's own %s (--allow-override)\n", k, k)
	}
	return nil
}
