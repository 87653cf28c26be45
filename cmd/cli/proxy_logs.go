package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner/audit"
	"github.com/The-17/agentsecrets/vault"
)

type proxyLogsOptions struct {
	Last   int
	Secret string
	Agent  string
	Source string
	Watch  bool
	JSON   bool
	Verify bool
}

func newProxyLogsCmd(f *Factory) *cobra.Command {
	o := &proxyLogsOptions{}
	cmd := &cobra.Command{
		Use:   "logs [--last N] [--secret KEY] [--env ENV] [--agent ID] [--watch] [--json] [--verify]",
		Short: "Show the local audit log (calls, proxied requests, resolutions)",
		Long: `Show the local audit log: one row per call, proxied request, environment
injection or secret resolution, with time, agent identity, environment,
method, target URL (injected query parameters shown by key name), key names,
status, duration, decision and whether the response was redacted. A row
holds a value only if one was typed into a URL, a method or a host instead
of a key name: every value of the environment is redacted from each row
before it is printed, and without the vault (locked) no row is printed.

"(REDACTED)" means the upstream echoed a credential and the response was
scrubbed before it was passed on ([REDACTED_BY_AGENTSECRETS]).

--json also gives the allowlist in force at each call: allowlist_entry, the
entry that admitted the host (empty when it was refused), and
allowlist_digest, "sha256:" and the SHA-256 of the list's domains, sorted,
one a line, as "agentsecrets workspace allowlist list" prints them.

Each confirmed change of the allowlist is a row too: source "allowlist",
method ADD or REMOVE, the identity that made it ($AGENTSECRETS_AGENT_ID,
else anonymous) and, in the table, the domains after "allowlist:". --json
gives allowlist_change (the domains), allowlist_before (the digest of the
list before the change), allowlist_digest (after it) and allowlist_domains
(the whole list after it): read from the start, the log rebuilds the list
every call was decided by. There is one row per confirmed command, so they
are few; --source allowlist shows only them, and --source, --secret and
--env for calls leave them out (they use no key and belong to no
environment).

--verify checks the hash chain of the whole log and exits 1, listing the
problems, when a row was edited, deleted or reordered, or when the events
view or the append-only triggers are not what the store created. It cannot
see a log rewritten from some row on with its hashes recomputed, nor one
replaced by an older copy. It also follows
each workspace's allowlist from its first change row on: each change must
start from the list the change before it left, and each call must have
been decided by a list a change row records, before or after it (a proxy
not yet synced after a change still uses the list before it: that is
recorded, not a gap). A change without its row (made by an older version
or a tool that opened the vault without recording it, by editing
index.json, or whose row could not be written) is listed under "allowlist
GAPS" by row ids, never a domain or digest, and exits 1 too, even when the
chain is intact. A log with no change row has no gap. With --json: ok (no
problem and no gap: exit 0), intact (the chain alone), rows, problems and
allowlist_gaps.`,
		Example: `  agentsecrets proxy logs --last 20
  agentsecrets proxy logs --secret STRIPE_KEY --json
  agentsecrets proxy logs --env production --agent billing-tool
  agentsecrets proxy logs --watch
  agentsecrets proxy logs --verify`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if c.Flags().Changed("secret") { // a misspelt name would quietly match nothing
				if err := vault.ValidateKeyName(o.Secret); err != nil {
					return err
				}
			}
			return runProxyLogs(c.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Last, "last", 50, "show the N most recent matching entries (0: all)")
	fl.StringVar(&o.Secret, "secret", "", "only entries that used this key name")
	fl.StringVar(&o.Agent, "agent", "", "only entries of this agent identity (anonymous, an id, token:<id>); an agent name also matches its tokens")
	fl.StringVar(&o.Source, "source", "", "only entries from this front end (call, proxy, mcp, env, exec), or allowlist changes (allowlist)")
	fl.BoolVar(&o.Watch, "watch", false, "keep printing new entries until interrupted")
	fl.BoolVar(&o.JSON, "json", false, "print JSON (one object per line with --watch)")
	fl.BoolVar(&o.Verify, "verify", false, "verify the hash chain, and that every allowlist change has its row, instead of listing entries")
	return cmd
}

// auditSources are the front ends that write audit entries, and the
// source of allowlist changes.
var auditSources = []string{audit.SourceCall, audit.SourceProxy, audit.SourceMCP, audit.SourceEnv, audit.SourceExec,
	audit.SourceAllowlist}

func runProxyLogs(ctx context.Context, f *Factory, o *proxyLogsOptions) error {
	if o.Last < 0 {
		return usageError("agentsecrets proxy logs", "--last %d must not be negative", o.Last)
	}
	if o.Source != "" && !slices.Contains(auditSources, o.Source) {
		return usageError("agentsecrets proxy logs", "--source %s: want one of %s", vault.Characters(o.Source), strings.Join(auditSources, ", "))
	}
	sink, err := f.Audit()
	if err != nil {
		return err
	}
	store, ok := sink.(*audit.Store)
	if !ok {
		return fmt.Errorf("proxy logs: the audit log is not a local store")
	}
	if o.Verify {
		return verifyAudit(ctx, f, store, o.JSON)
	}
	filter := audit.Filter{Last: o.Last, Secret: o.Secret, Env: f.Environment, Agent: o.Agent, Source: o.Source}
	filter.Agents = f.agentTokenIdentities(o.Agent)
	if o.Watch {
		return watchAudit(ctx, f, store, filter, o.JSON)
	}
	entries, err := store.Query(ctx, filter)
	if err != nil {
		return unreadableLog(err)
	}
	return printLogEntries(f, entries, o.JSON, "no audit entries match")
}

// printLogEntries prints audit entries as a table, or as JSON; none is
// the line empty (or [] in JSON). Every row is redacted first: nothing is
// printed when the vault cannot be read.
func printLogEntries(f *Factory, entries []audit.Entry, asJSON bool, empty string) error {
	if len(entries) > 0 {
		set, err := f.envValueSet()
		if err != nil {
			return err
		}
		for i := range entries {
			redactEntry(set, &entries[i])
		}
	}
	if asJSON {
		out := make([]logEntry, 0, len(entries))
		for _, e := range entries {
			out = append(out, newLogEntry(e))
		}
		return f.printJSON(out)
	}
	if len(entries) == 0 {
		fmt.Fprintln(f.IO.Out, empty)
		return nil
	}
	tw := newLogTable(f.IO.Out)
	for _, e := range entries {
		writeLogRow(tw, e)
	}
	return tw.Flush()
}

func watchAudit(ctx context.Context, f *Factory, store *audit.Store, filter audit.Filter, asJSON bool) error {
	r := &logRedactor{f: f}
	if err := r.load(); err != nil { // a locked vault fails now, not at the first row
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var tw *tabwriter.Writer
	if !asJSON {
		tw = newLogTable(f.IO.Out)
		_ = tw.Flush()
	}
	enc := json.NewEncoder(f.IO.Out)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var werr error
	err := store.Watch(ctx, filter, func(e audit.Entry) {
		if werr != nil {
			return
		}
		if werr = r.redact(&e); werr != nil {
			cancel() // no row printed unredacted, nor after it
			return
		}
		if asJSON {
			werr = enc.Encode(newLogEntry(e))
			return
		}
		writeLogRow(tw, e)
		werr = tw.Flush()
	})
	if err != nil {
		return unreadableLog(err)
	}
	return werr
}

func verifyAudit(ctx context.Context, f *Factory, store *audit.Store, asJSON bool) error {
	res, err := store.Verify(ctx)
	if err != nil {
		return err
	}
	clean := res.OK && len(res.AllowlistGaps) == 0
	if asJSON {
		err = f.printJSON(newVerifyReport(res, clean))
	} else {
		printVerify(f.IO.Out, res)
	}
	if err != nil {
		return err
	}
	if !clean {
		return &silentError{code: ExitError}
	}
	return nil
}

// printVerify writes the outcome of --verify: the chain, then the gaps
// of the allowlist's story, if any.
func printVerify(w io.Writer, res audit.VerifyResult) {
	if res.OK {
		fmt.Fprintf(w, "audit log intact: %s, hash chain verified\n", plural(res.Rows, "row"))
	} else {
		fmt.Fprintf(w, "audit log BROKEN: %s found in %s\n", plural(len(res.Problems), "problem"), plural(res.Rows, "row"))
		printIndented(w, res.Problems)
	}
	if len(res.AllowlistGaps) > 0 {
		fmt.Fprintf(w, "allowlist GAPS: %s where the allowlist changed without a row\n", plural(len(res.AllowlistGaps), "gap"))
		printIndented(w, res.AllowlistGaps)
	}
}

func printIndented(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// verifyReport is the --json shape of --verify: lower-case names, as in
// every other listing, and lists always lists. ok is the exit status (no
// problem and no gap), intact the chain's alone.
type verifyReport struct {
	OK            bool     `json:"ok"`
	Intact        bool     `json:"intact"`
	Rows          int      `json:"rows"`
	Problems      []string `json:"problems"`
	AllowlistGaps []string `json:"allowlist_gaps"`
}

func newVerifyReport(res audit.VerifyResult, clean bool) verifyReport {
	out := verifyReport{OK: clean, Intact: res.OK, Rows: res.Rows, Problems: res.Problems, AllowlistGaps: res.AllowlistGaps}
	if out.Problems == nil {
		out.Problems = []string{}
	}
	if out.AllowlistGaps == nil {
		out.AllowlistGaps = []string{}
	}
	return out
}

// logEntry is the --json shape of an audit entry.
type logEntry struct {
	ID          int64          `json:"id"`
	Time        time.Time      `json:"time"`
	Source      string         `json:"source"`
	Agent       string         `json:"agent"`
	Workspace   string         `json:"workspace"`
	Project     string         `json:"project"`
	Environment string         `json:"environment"`
	Method      string         `json:"method"`
	URL         string         `json:"url"`
	Keys        []string       `json:"keys"`
	AuthStyles  []string       `json:"auth_styles"`
	Status      int            `json:"status"`
	DurationMS  float64        `json:"duration_ms"`
	Decision    audit.Decision `json:"decision"`
	Reason      string         `json:"reason,omitempty"`
	Redactions  int            `json:"redactions"`
	// The allowlist in force at the call: the entry that admitted the
	// host ("" when refused) and the digest of the whole list ("" when
	// the call had no host or failed before the guard).
	AllowlistEntry  string `json:"allowlist_entry"`
	AllowlistDigest string `json:"allowlist_digest"`
	// Only in a change of the allowlist (source "allowlist"): the domains
	// added or removed, the digest of the list before the change
	// (allowlist_digest is the list after it) and the whole list after it.
	AllowlistChange  []string  `json:"allowlist_change,omitempty"`
	AllowlistBefore  string    `json:"allowlist_before,omitempty"`
	AllowlistDomains *[]string `json:"allowlist_domains,omitempty"`
	Hash             string    `json:"hash"`
}

func newLogEntry(e audit.Entry) logEntry {
	keys, styles := e.Keys, e.AuthStyles
	if keys == nil {
		keys = []string{}
	}
	if styles == nil {
		styles = []string{}
	}
	return logEntry{ID: e.ID, Time: e.Time, Source: e.Source, Agent: e.Agent, Workspace: e.Workspace,
		Project: e.Project, Environment: e.Environment, Method: e.Method, URL: e.URL, Keys: keys,
		AuthStyles: styles, Status: e.Status, DurationMS: float64(e.Duration.Microseconds()) / 1000,
		Decision: e.Decision, Reason: e.Reason, Redactions: e.Redactions,
		AllowlistEntry: e.AllowlistEntry, AllowlistDigest: e.AllowlistDigest, Hash: e.Hash,
		AllowlistChange: e.AllowlistChange, AllowlistBefore: e.AllowlistBefore, AllowlistDomains: changedList(e)}
}

// changedList is the list after a change of the allowlist ([] when it
// was emptied), nil for any other row.
func changedList(e audit.Entry) *[]string {
	if e.Source != audit.SourceAllowlist {
		return nil
	}
	list := append([]string{}, e.AllowlistDomains...)
	return &list
}

func newLogTable(w io.Writer) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tAGENT\tENV\tMETHOD\tURL\tKEYS\tSTATUS\tDURATION\tDECISION\tREDACTION")
	return tw
}

func writeLogRow(tw *tabwriter.Writer, e audit.Entry) {
	keys := strings.Join(e.Keys, ",")
	if keys == "" {
		keys = "-"
	}
	status := "-"
	if e.Status != 0 {
		status = strconv.Itoa(e.Status)
	}
	redaction := "-"
	if e.Redactions > 0 {
		redaction = "(REDACTED)"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		e.Time.Local().Format("2006-01-02 15:04:05"), cell(orDash(e.Agent)), cell(orDash(e.Environment)), cell(orDash(e.Method)),
		cell(orDash(logTarget(e))), cell(keys), status, formatDuration(e.Duration), cell(string(e.Decision)), redaction)
}

// cell is s as a table cell. A row holds what callers chose (an id sent to
// exec is recorded as it came when it cannot be parsed, an agent declares
// its own name): anything not printable (a newline, a tab, a terminal
// escape, a bidi override) is shown escaped, so a row can neither forge
// another nor drive the terminal of the human reading the log.
func cell(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// logTarget is what the URL column shows: the URL, or for a change of the
// allowlist the domains it added or removed.
func logTarget(e audit.Entry) string {
	if e.Source == audit.SourceAllowlist {
		return "allowlist: " + strings.Join(e.AllowlistChange, " ")
	}
	return e.URL
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// agentTokenIdentities returns "token:<id>" for every token ever issued to
// the agent named name, so --agent NAME also finds the calls made with its
// tokens. A name that is not an agent (anonymous, a declared id, token:…)
// gives none.
func (f *Factory) agentTokenIdentities(name string) []string {
	if name == "" || vault.ValidateAgentName(name) != nil {
		return nil
	}
	s, err := f.Store()
	if err != nil {
		return nil
	}
	tokens, err := s.Tokens(name)
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(tokens))
	for _, t := range tokens {
		ids = append(ids, "token:"+t.ID)
	}
	return ids
}

// unreadableLog gives an error about an edited row the hint to verify the
// log; other errors pass as they are.
func unreadableLog(err error) error {
	if errors.Is(err, audit.ErrUnreadable) {
		return newError(ExitError, "agentsecrets proxy logs --verify reports every edited row", "%v", err)
	}
	return err
}
