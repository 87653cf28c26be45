package audit_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
)

func Example() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	store, err := audit.Open(filepath.Join(dir, audit.FileName))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	target, _ := url.Parse("https://maps.example.com/geocode?address=Paris")
	ctx := context.Background()
	_ = store.Record(ctx, audit.Event{
		Source:      audit.SourceCall,
		Agent:       "anonymous",
		Environment: "development",
		Method:      "GET",
		URL:         audit.SanitizeURL(target, map[string]string{"key": "GOOGLE_MAPS_KEY"}),
		Keys:        []string{"GOOGLE_MAPS_KEY"},
		AuthStyles:  []string{"query"},
		Status:      200,
		Duration:    42 * time.Millisecond,
		Decision:    audit.DecisionOK,
	})

	entries, _ := store.Query(ctx, audit.Filter{Secret: "GOOGLE_MAPS_KEY", Last: 10})
	for _, e := range entries {
		fmt.Println(e.ID, e.Method, e.URL, e.Keys, e.Status, e.Decision)
	}
	res, _ := store.Verify(ctx)
	fmt.Println("chain ok:", res.OK, "rows:", res.Rows)
	// Output:
	// 1 GET https://maps.example.com/geocode?address=Paris&key={GOOGLE_MAPS_KEY} [GOOGLE_MAPS_KEY] 200 ok
	// chain ok: true rows: 1
}
