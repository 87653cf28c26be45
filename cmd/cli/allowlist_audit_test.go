package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/runner/proxy"
)

// changeRow is what proxy logs --json gives of a row, with the fields
// of an allowlist change.
type changeRow struct {
	ID               int64    `json:"id"`
	Source           string   `json:"source"`
	Agent            string   `json:"agent"`
	Workspace        string   `json:"workspace"`
	Environment      string   `json:"environment"`
	Method           string   `json:"method"`
	URL              string   `json:"url"`
	Keys             []string `json:"keys"`
	Decision         string   `json:"decision"`
	AllowlistEntry   string   `json:"allowlist_entry"`
	AllowlistDigest  string   `json:"allowlist_digest"`
	AllowlistChange  []string `json:"allowlist_change"`
	AllowlistBefore  string   `json:"allowlist_before"`
	AllowlistDomains []string `json:"allowlist_domains"`
}

// logRows runs proxy logs --json with args and decodes the rows.
func logRows(t *testing.T, sb *sandbox, args ...string) []changeRow {
	t.Helper()
	out := sb.mustRun("", append([]string{"proxy", "logs", "--json", "--last", "0"}, args...)...)
	var rows []changeRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("proxy logs --json: %v\n%s", err, out)
	}
	return rows
}

// changeOnPTY runs an allowlist change confirmed with "yes" on a
// terminal, with the environment extended by env, and wants it to
// succeed.
func changeOnPTY(t *testing.T, sb *sandbox, env []string, args ...string) string {
	t.Helper()
	saved := sb.env
	sb.env = append(slices.Clone(sb.env), env...)
	defer func() { sb.env = saved }()
	code, shown := sb.runOnPTY("yes", append([]string{"workspace", "allowlist"}, args...)...)
	if code != 0 {
		t.Fatalf("allowlist %v: exit %d\n%s", args, code, shown)
	}
	return shown
}

// listDigest is the SHA-256 of what allowlist list prints, as
// `agentsecrets workspace allowlist list | sha256sum` computes it.
func listDigest(t *testing.T, sb *sandbox) string {
	t.Helper()
	out := sb.mustRun("", "workspace", "allowlist", "list")
	if strings.Contains(out, "empty") {
		out = ""
	}
	sum := sha256.Sum256([]byte(out))
	return audit.DigestPrefix + hex.EncodeToString(sum[:])
}

// TestAllowlistChangesInAuditLog: every confirmed add or remove is a row
// of the audit log with the domains, who made it, and the list before and
// after; replaying the rows from the start rebuilds the list each call
// was decided by; the rows are chained like every other.
func TestAllowlistChangesInAuditLog(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := newSandbox(t)
	sb.mustRun("", "init")
	sb.mustRun(callSecret+"\n", "secrets", "set", "API_KEY")
	api := newEchoServer(t)

	empty := listDigest(t, sb)
	shown := changeOnPTY(t, sb, []string{"AGENTSECRETS_AGENT_ID=ops-human"}, "add", "a.example.com", "*.b.example.com", "127.0.0.1")
	if !strings.Contains(shown, "Added") {
		t.Errorf("add: %s", shown)
	}
	afterAdd := listDigest(t, sb)
	changeOnPTY(t, sb, nil, "remove", "a.example.com")
	afterRemove := listDigest(t, sb)
	if out := sb.mustRun("", "workspace", "allowlist", "add", "127.0.0.1"); !strings.Contains(out, "Already allowed") {
		t.Errorf("adding a listed domain: %s", out) // no change, no row
	}
	sb.mustRun("", "call", "--url", api.URL+"/v1", "--bearer", "API_KEY", "--agent", "bot")
	// A refused call records the list too.
	if _, _, code := sb.run("", "call", "--url", "https://a.example.com/", "--bearer", "API_KEY"); code != ExitDenied {
		t.Fatalf("call to a removed domain: exit %d", code)
	}

	rows := logRows(t, sb)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 2 changes and 2 calls: %+v", len(rows), rows)
	}
	add, remove := rows[0], rows[1]
	wantAdd := changeRow{ID: 1, Source: "allowlist", Agent: "ops-human", Workspace: "default", Method: "ADD",
		Keys: []string{}, Decision: "ok", AllowlistDigest: afterAdd,
		AllowlistChange: []string{"*.b.example.com", "127.0.0.1", "a.example.com"}, AllowlistBefore: empty,
		AllowlistDomains: []string{"*.b.example.com", "127.0.0.1", "a.example.com"}}
	if !rowsEqual(add, wantAdd) {
		t.Errorf("add row\n got %+v\nwant %+v", add, wantAdd)
	}
	wantRemove := changeRow{ID: 2, Source: "allowlist", Agent: "anonymous", Workspace: "default", Method: "REMOVE",
		Keys: []string{}, Decision: "ok", AllowlistDigest: afterRemove,
		AllowlistChange: []string{"a.example.com"}, AllowlistBefore: afterAdd,
		AllowlistDomains: []string{"*.b.example.com", "127.0.0.1"}}
	if !rowsEqual(remove, wantRemove) {
		t.Errorf("remove row\n got %+v\nwant %+v", remove, wantRemove)
	}
	for _, call := range rows[2:] {
		if call.AllowlistDigest != afterRemove || call.AllowlistChange != nil || call.AllowlistDomains != nil {
			t.Errorf("call row %d: digest %s (want the list after the last change, %s), change %v %v",
				call.ID, call.AllowlistDigest, afterRemove, call.AllowlistChange, call.AllowlistDomains)
		}
	}
	replayAllowlist(t, rows)

	// The table names the change; filters treat the rows like any other.
	table := sb.mustRun("", "proxy", "logs")
	for _, want := range []string{"ops-human", "ADD ", "REMOVE ", "allowlist: *.b.example.com 127.0.0.1 a.example.com", "allowlist: a.example.com"} {
		if !strings.Contains(table, want) {
			t.Errorf("logs table lacks %q:\n%s", want, table)
		}
	}
	for _, tc := range []struct {
		args []string
		ids  []int64
	}{
		{[]string{"--source", "allowlist"}, []int64{1, 2}},
		{[]string{"--source", "call"}, []int64{3, 4}},
		{[]string{"--agent", "ops-human"}, []int64{1}},
		{[]string{"--secret", "API_KEY"}, []int64{3, 4}},
		{[]string{"--env", "development"}, []int64{3, 4}},
	} {
		var ids []int64
		for _, r := range logRows(t, sb, tc.args...) {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, tc.ids) {
			t.Errorf("proxy logs %v: rows %v, want %v", tc.args, ids, tc.ids)
		}
	}
	// The allowlist's own log shows its changes beside the refusals.
	var blocked []changeRow
	if err := json.Unmarshal([]byte(sb.mustRun("", "workspace", "allowlist", "log", "--json")), &blocked); err != nil {
		t.Fatal(err)
	}
	if len(blocked) != 3 || blocked[0].Method != "ADD" || blocked[1].Method != "REMOVE" || blocked[2].Decision != "blocked_allowlist" {
		t.Errorf("allowlist log: %+v", blocked)
	}

	if out := sb.mustRun("", "proxy", "logs", "--verify"); !strings.Contains(out, "audit log intact: 4 rows") {
		t.Fatalf("verify: %s", out)
	}
	tamperAudit(t, filepath.Join(sb.home, audit.FileName),
		`UPDATE segments SET events = json_set(events, '$[0].allowlist_change[0]', 'evil.example') WHERE first_id = 2`)
	out, _, code := sb.run("", "proxy", "logs", "--verify")
	if code != ExitError || !strings.Contains(out, "row 2: hash mismatch (edited)") {
		t.Errorf("verify after editing a change row: exit %d\n%s", code, out)
	}
}

func rowsEqual(a, b changeRow) bool {
	return a.ID == b.ID && a.Source == b.Source && a.Agent == b.Agent && a.Workspace == b.Workspace &&
		a.Environment == b.Environment && a.Method == b.Method && a.URL == b.URL && slices.Equal(a.Keys, b.Keys) &&
		a.Decision == b.Decision && a.AllowlistEntry == b.AllowlistEntry && a.AllowlistDigest == b.AllowlistDigest &&
		slices.Equal(a.AllowlistChange, b.AllowlistChange) && a.AllowlistBefore == b.AllowlistBefore &&
		slices.Equal(a.AllowlistDomains, b.AllowlistDomains)
}

// replayAllowlist rebuilds the list of each workspace from the change
// rows, from an empty list, and checks every row against it: a change
// starts from the list in force and applies its domains; a call records
// the digest of the list in force.
func replayAllowlist(t *testing.T, rows []changeRow) {
	t.Helper()
	lists := map[string][]string{}
	for _, r := range rows {
		list := lists[r.Workspace]
		if r.Source != "allowlist" {
			if r.AllowlistDigest != audit.DigestAllowlist(list) {
				t.Errorf("row %d was decided by a list the log does not rebuild", r.ID)
			}
			continue
		}
		if r.AllowlistBefore != audit.DigestAllowlist(list) {
			t.Errorf("row %d does not start from the list the rows before left", r.ID)
		}
		switch r.Method {
		case "ADD":
			list = append(slices.Clone(list), r.AllowlistChange...)
		case "REMOVE":
			list = slices.DeleteFunc(slices.Clone(list), func(d string) bool { return slices.Contains(r.AllowlistChange, d) })
		default:
			t.Fatalf("row %d: method %q", r.ID, r.Method)
		}
		slices.Sort(list)
		if !slices.Equal(list, r.AllowlistDomains) || audit.DigestAllowlist(list) != r.AllowlistDigest {
			t.Errorf("row %d: replayed list %v, the row says %v (%s)", r.ID, list, r.AllowlistDomains, r.AllowlistDigest)
		}
		lists[r.Workspace] = list
	}
}

// TestAllowlistChangeNotRecorded: when the audit log refuses the row, the
// change stays and the command says so (exit 1); when the log cannot be
// opened at all, nothing changes.
func TestAllowlistChangeNotRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := newSandbox(t)
	changeOnPTY(t, sb, nil, "add", "a.example.com")
	tamperAudit(t, filepath.Join(sb.home, audit.FileName),
		`CREATE TRIGGER refuse BEFORE INSERT ON segments BEGIN SELECT RAISE(ABORT, 'refused by test'); END`)
	code, shown := sb.runOnPTY("yes", "workspace", "allowlist", "add", "b.example.com")
	if code != ExitError || !strings.Contains(shown, "Added b.example.com") ||
		!strings.Contains(shown, "error:\x1b[0m the allowlist was changed but the change is not in the audit log") ||
		!strings.Contains(shown, "hint: the change stays") {
		t.Errorf("add with a refusing log: exit %d\n%s", code, shown)
	}
	if out := sb.mustRun("", "workspace", "allowlist", "list"); out != "a.example.com\nb.example.com\n" {
		t.Errorf("allowlist after an unrecorded add = %q", out)
	}

	sb2 := newSandbox(t)
	if err := os.MkdirAll(filepath.Join(sb2.home, audit.FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	code, shown = sb2.runOnPTY("yes", "workspace", "allowlist", "add", "a.example.com")
	if code == 0 || !strings.Contains(shown, "nothing changed") {
		t.Errorf("add with no audit log: exit %d\n%s", code, shown)
	}
	if out := sb2.mustRun("", "workspace", "allowlist", "list", "--json"); !strings.Contains(out, `"domains": []`) {
		t.Errorf("allowlist after a refused add = %s", out)
	}
}

// TestVerifyAllowlistGaps: adds, removes, calls and a proxy started
// before a change and not yet synced (its rows carry the list it read)
// verify without a gap; a change made through a vault opened without the
// recorder is reported by row ids, exit 1, the chain intact.
func TestVerifyAllowlistGaps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	sb := callSandbox(t) // 127.0.0.1 listed before the log has a row
	stopDaemonOnCleanup(t, sb)
	api := newEchoServer(t)
	port := freePort(t)
	sb.mustRun("", "proxy", "start", "--port", strconv.Itoa(port))
	token, err := proxy.Files{Dir: sb.home}.Token()
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := func(rows int) {
		t.Helper()
		if status, body := proxied(t, port, token, api.URL+"/p", "X-AS-Inject-Bearer", "API_KEY"); status != 200 {
			t.Fatalf("proxied call: %d %s", status, body)
		}
		waitRows(t, sb, rows)
	}
	viaProxy(1)                                                          // row 1: the list the proxy read at start
	changeOnPTY(t, sb, nil, "add", "a.example.com")                      // row 2
	viaProxy(3)                                                          // row 3: not synced, the list before row 2
	sb.mustRun("", "call", "--url", api.URL+"/c", "--bearer", "API_KEY") // row 4: the list after row 2
	changeOnPTY(t, sb, nil, "add", "b.example.com")                      // row 5
	viaProxy(6)                                                          // row 6: still the list before row 2
	sb.mustRun("", "proxy", "sync")
	viaProxy(7) // row 7: the list after row 5
	sb.mustRun("", "proxy", "stop")

	rows := logRows(t, sb)
	if len(rows) != 7 || rows[2].AllowlistDigest != rows[1].AllowlistBefore || rows[5].AllowlistDigest != rows[1].AllowlistBefore ||
		rows[6].AllowlistDigest != rows[4].AllowlistDigest || rows[3].AllowlistDigest != rows[1].AllowlistDigest {
		t.Fatalf("the proxy's rows do not carry the lists it used: %+v", rows)
	}
	out, _, code := sb.run("", "proxy", "logs", "--verify")
	if code != 0 || out != "audit log intact: 7 rows, hash chain verified\n" {
		t.Errorf("verify of the normal sequence: exit %d\n%s", code, out)
	}

	// A tool opens the vault without the recorder and changes the list.
	s, _ := openStore(t, sb)
	if _, err := s.AllowlistAdd([]string{"c.example.com"}); err != nil {
		t.Fatal(err)
	}
	sb.mustRun("", "call", "--url", api.URL+"/c", "--bearer", "API_KEY") // row 8
	out, _, code = sb.run("", "proxy", "logs", "--verify")
	want := "audit log intact: 8 rows, hash chain verified\n" +
		"allowlist GAPS: 1 gap where the allowlist changed without a row\n" +
		"  allowlist changed without a row before row 8 (row 8 was decided by a list no change row records)\n"
	if code != ExitError || out != want {
		t.Errorf("verify after an unrecorded change: exit %d\n%s\nwant\n%s", code, out, want)
	}

	// The next recorded change starts from the unrecorded list.
	changeOnPTY(t, sb, nil, "remove", "a.example.com") // row 9
	out, _, code = sb.run("", "proxy", "logs", "--verify", "--json")
	var rep struct {
		OK            bool     `json:"ok"`
		Intact        bool     `json:"intact"`
		Rows          int      `json:"rows"`
		Problems      []string `json:"problems"`
		AllowlistGaps []string `json:"allowlist_gaps"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	wantGaps := []string{"allowlist changed without a row between row 5 and row 9 (row 9 does not start from the list row 5 left)"}
	if code != ExitError || rep.OK || !rep.Intact || rep.Rows != 9 || rep.Problems == nil || len(rep.Problems) != 0 ||
		!slices.Equal(rep.AllowlistGaps, wantGaps) {
		t.Errorf("verify --json after an unrecorded change: exit %d\n%s", code, out)
	}
	for _, v := range []string{audit.DigestPrefix, "example.com"} {
		if strings.Contains(out, v) {
			t.Errorf("verify names %q:\n%s", v, out)
		}
	}
}

// waitRows waits until the audit log has n rows (the proxy writes its
// rows a moment after answering).
func waitRows(t *testing.T, sb *sandbox, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		rows := logRows(t, sb)
		if len(rows) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows in the log, want %d", len(rows), n)
		}
	}
}
