#!/bin/sh
# Runs a command with a real Secret Service: a private D-Bus session bus
# (dbus-run-session) and a gnome-keyring-daemon whose login keyring is
# created and unlocked in a throwaway directory, so the user's own keyrings
# are never touched. AGENTSECRETS_TEST_SECRET_SERVICE=1 tells the test suite
# that the Secret Service tests may run.
#
# Without gnome-keyring-daemon or dbus-run-session the command runs as is and
# those tests skip.
#
#   scripts/with-keyring.sh go test ./vault/keychain/
set -eu

if [ "$#" -eq 0 ]; then
	echo "usage: $0 command [argument...]" >&2
	exit 2
fi

if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
	echo "secret service tests skipped: gnome-keyring or dbus not installed" >&2
	exec "$@"
fi

# gnome-keyring creates the "login" collection (which go-keyring writes to)
# only when --unlock is given a non-empty password, so the throwaway keyring
# gets a fixed one; it protects nothing but test items.
exec dbus-run-session -- sh -c '
	set -eu
	keyring_data=$(mktemp -d)
	trap "rm -rf \"\$keyring_data\"" EXIT
	eval "$(printf %s agentsecrets-test-keyring |
		XDG_DATA_HOME="$keyring_data" gnome-keyring-daemon --unlock --components=secrets)"
	export GNOME_KEYRING_CONTROL
	export AGENTSECRETS_TEST_SECRET_SERVICE=1
	"$@"
' with-keyring "$@"
