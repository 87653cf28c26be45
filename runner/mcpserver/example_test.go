package mcpserver_test

import (
	"context"
	"fmt"
	"log"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/The-17/agentsecrets/runner/mcpserver"
)

// A client of the official SDK lists the tools and makes a call. The
// backend here answers with a canned, already redacted response.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	backend := &fakeBackend{callOut: mcpserver.APICallOutput{Status: 200,
		Headers: map[string]string{"Content-Type": "application/json"},
		Body:    map[string]any{"echo": "[REDACTED_BY_AGENTSECRETS]"}, Redactions: 1}}

	serverSide, clientSide := mcp.NewInMemoryTransports()
	go mcpserver.Serve(ctx, backend, serverSide, mcpserver.Options{})
	client := mcp.NewClient(&mcp.Implementation{Name: "example", Version: "1"}, nil)
	cs, err := client.Connect(ctx, clientSide, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range tools.Tools {
		fmt.Println(t.Name)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: mcpserver.ToolAPICall,
		Arguments: map[string]any{"url": "https://api.example.com/echo", "bearer": []string{"API_KEY"}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output:
	// api_call
	// audit_logs
	// check_secret
	// list_environments
	// list_secrets
	// status
	// HTTP 200 OK
	// Content-Type: application/json
	//
	// {"echo":"[REDACTED_BY_AGENTSECRETS]"}
	//
	// (1 secret echo(es) redacted)
}
