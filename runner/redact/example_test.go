package redact_test

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/The-17/agentsecrets/runner/redact"
)

func ExampleSet_Redact() {
	set := redact.NewSet([]byte("s3cr3t-t0ken-value"))
	echo := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("me:s3cr3t-t0ken-value"))
	out, n := set.Redact([]byte(echo))
	fmt.Println(string(out), n)
	// Output: Authorization: Basic bWU6[REDACTED_BY_AGENTSECRETS] 1
}

func ExampleSet_NewReader() {
	set := redact.NewSet([]byte("s3cr3t-t0ken-value"))
	r := set.NewReader(strings.NewReader(`{"echo":"s3cr3t-t0ken-value","partial":"t0ken-value"}` + "\n"))
	defer r.Close()
	os.Stdout.ReadFrom(r)
	fmt.Println(r.Count())
	// Output:
	// {"echo":"[REDACTED_BY_AGENTSECRETS]","partial":"t0ken-value"}
	// 1
}
