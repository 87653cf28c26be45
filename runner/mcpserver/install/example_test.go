package install_test

import (
	"fmt"
	"log"

	"github.com/The-17/agentsecrets/runner/mcpserver/install"
)

func ExampleMerge() {
	config := []byte(`{"theme": "dark", "mcpServers": {"fs": {"command": "npx"}}}`)
	out, changed, err := install.Merge(config, "agentsecrets",
		install.Server{Command: "/usr/local/bin/agentsecrets", Args: []string{"mcp", "serve"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(changed)
	fmt.Print(string(out))
	// Output:
	// true
	// {
	//   "theme": "dark",
	//   "mcpServers": {
	//     "fs": {
	//       "command": "npx"
	//     },
	//     "agentsecrets": {
	//       "command": "/usr/local/bin/agentsecrets",
	//       "args": [
	//         "mcp",
	//         "serve"
	//       ]
	//     }
	//   }
	// }
}
