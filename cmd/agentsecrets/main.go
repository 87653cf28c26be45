// Command agentsecrets is a secrets manager whose operator is an AI agent
// that never sees a credential value. See the cli package for the commands.
package main

import (
	"os"

	"github.com/The-17/agentsecrets/cmd/cli"
)

func main() { os.Exit(cli.Main()) }
