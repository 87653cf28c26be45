package cli

import "testing"

func TestIsControlVar(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"LD_PRELOAD", true},
		{"DYLD_INSERT_LIBRARIES", true},
		{"PATH", true},
		{"BASH_ENV", true},
		{"PS1", true},
		{"NODE_OPTIONS", true},
		{"NPM_CONFIG_SCRIPT_SHELL", true},
		{"NPM_CONFIG_NODE_OPTIONS", true},
		{"GIT_CONFIG_GLOBAL", true},
		{"RUSTC_WRAPPER", true},
		{"GOFLAGS", true},
		{"DOTNET_STARTUP_HOOKS", true},
		{"CARGO_BUILD_RUSTC_WRAPPER", true},
		{"CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER", true},
		{"GRADLE_OPTS", true},
		{"MAVEN_OPTS", true},
		{"R_PROFILE_USER", true},
		{"GOPROXY_TOKEN", false},
		{"CARGO_REGISTRY_TOKEN", false},
		{"STRIPE_KEY", false},
		{"GITHUB_TOKEN", false},
		{"NPM_TOKEN", false},
		{"PATH_PREFIX", false},
		{"LDAP_PASSWORD", false},
	} {
		if got := isControlVar(tt.name); got != tt.want {
			t.Errorf("isControlVar(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
