package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/hostfns"
	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/vault"
	"github.com/The-17/agentsecrets/wasm"
)

func init() { register(newPolicyCmd) }

func newPolicyCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "List, register, inspect and dry-run WebAssembly policies",
		Long: `Every injection is a WebAssembly policy that holds only opaque handles to
secrets. The built-in ones (bearer, header, query, basic, body-field,
form-field, redact) back call's flags; custom ones sign requests or handle odd
auth styles and are used with call --policy NAME --param k=v.`,
		Example: `  agentsecrets policy list
  agentsecrets policy add hmac-sign ./hmac.wasm
  agentsecrets policy test --url https://api.example.com/v1 --bearer API_KEY`,
	}
	cmd.AddCommand(newPolicyListCmd(f), newPolicyAddCmd(f), newPolicyRemoveCmd(f),
		newPolicyInspectCmd(f), newPolicyTestCmd(f))
	return cmd
}

type policyRow struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int    `json:"size"`
}

func newPolicyListCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List built-in and registered policies",
		Example: "  agentsecrets policy list --json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			var rows []policyRow
			for _, name := range wasm.BuiltinNames() {
				code, _ := wasm.Builtin(name)
				rows = append(rows, policyRow{Name: name, Kind: "built-in", Size: len(code)})
			}
			entries, err := f.Registry(s.Home()).List()
			if err != nil {
				return err
			}
			for _, e := range entries {
				rows = append(rows, policyRow{Name: e.Name, Kind: "custom", SHA256: e.SHA256, Size: e.Size})
			}
			if asJSON {
				return f.printJSON(rows)
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tSIZE\tSHA256")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Name, r.Kind, r.Size, shortDigest(r.SHA256))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	if d == "" {
		return "-"
	}
	return d
}

func newPolicyAddCmd(f *Factory) *cobra.Command {
	var replace bool
	cmd := &cobra.Command{
		Use:   "add NAME FILE.wasm [--replace]",
		Short: "Validate a custom policy and register it under a name",
		Long: `Validate a WebAssembly policy (its exports, and imports only from the
agentsecrets host module or WASI) and store it by content hash under NAME.
A name already registered with other code is refused unless --replace is
given: which code a name runs (and so where the secrets it opens go) changes
only when asked. Adding the same code again changes nothing.`,
		Example: "  agentsecrets policy add hmac-sign ./hmac.wasm\n  agentsecrets policy add hmac-sign ./hmac-v2.wasm --replace\n  agentsecrets call --url https://api.example.com/hook --policy hmac-sign --param key=WEBHOOK_SECRET",
		Args:    exactArgs(2, "NAME and FILE.wasm"),
		RunE: func(c *cobra.Command, args []string) error {
			name, file := args[0], args[1]
			code, err := readPolicyFile(c.CommandPath(), file)
			if err != nil {
				return err
			}
			if !policies.ValidName(name) {
				return invalidPolicyName(c.CommandPath(), name)
			}
			s, err := f.Store()
			if err != nil {
				return err
			}
			reg := f.Registry(s.Home())
			var e, old policies.Entry
			if replace {
				e, old, err = reg.Replace(name, code)
			} else {
				e, err = reg.Add(name, code)
			}
			switch {
			case errors.Is(err, policies.ErrPolicyExists):
				return &Error{Code: ExitUsage, Err: err, Msg: err.Error(),
					Hint: "to run the new code under that name: " + rerunLine(c, args) + " --replace"}
			case err != nil:
				return &Error{Code: ExitUsage, Err: err, Msg: err.Error(), Hint: "agentsecrets policy inspect " + shellQuote(file)}
			case old.SHA256 != "" && old.SHA256 != e.SHA256:
				fmt.Fprintf(f.IO.Out, "Replaced policy %q (sha256 %s, %d bytes; was %s)\n", e.Name, shortDigest(e.SHA256), e.Size, shortDigest(old.SHA256))
			default:
				fmt.Fprintf(f.IO.Out, "Registered policy %q (sha256 %s, %d bytes)\n", e.Name, shortDigest(e.SHA256), e.Size)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&replace, "replace", false, "replace the code of a name already registered")
	return cmd
}

// readPolicyFile reads a policy file given on the command line. A path
// that is not there, or cannot be looked at, is not repeated, only its
// length: a value may be typed where the file goes. A file that is there
// is named in the errors of policies.ReadModuleFile.
func readPolicyFile(cmdPath, file string) ([]byte, error) {
	if why := statFault(file); why != "" {
		return nil, usageError(cmdPath, "policy file %s: %s", vault.Characters(file), why)
	}
	code, err := policies.ReadModuleFile(file)
	if err != nil {
		return nil, usageError(cmdPath, "%v", err)
	}
	return code, nil
}

// statFault says why the file at path cannot be looked at (no such file,
// permission denied, ...), or "" when it is there. An error that uses it
// gives the path's length, not the path: a value may be typed where a file
// goes.
func statFault(path string) string {
	_, err := os.Stat(path)
	var pe *fs.PathError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return "cannot be read"
}

// invalidPolicyName refuses name, which policies.ValidName refuses. A
// built-in's name is quoted (the CLI defines it); any other name only by
// its length and what is wrong with it.
func invalidPolicyName(cmdPath, name string) error {
	if wasm.IsBuiltin(name) {
		return newError(ExitUsage, "choose another name; agentsecrets policy list shows the names in use",
			"invalid policy name %q: it is a built-in policy's name", name)
	}
	return newError(ExitUsage, "policy names are lower-case letters, digits, '-' and '_', starting with a letter, and not a built-in's name (hmac-sign)",
		"invalid policy name %s: %s", vault.Characters(name), policies.NameFault(name))
}

func newPolicyRemoveCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Short:   "Unregister a custom policy",
		Example: "  agentsecrets policy remove hmac-sign",
		Args:    exactArgs(1, "NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := f.Store()
			if err != nil {
				return err
			}
			if err := f.Registry(s.Home()).Remove(args[0]); err != nil {
				return &Error{Code: ExitNotFound, Err: err, Msg: err.Error(), Hint: "agentsecrets policy list"}
			}
			fmt.Fprintf(f.IO.Out, "Removed policy %q\n", args[0])
			return nil
		},
	}
}

func newPolicyInspectCmd(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "inspect FILE.wasm|NAME",
		Short:   "Show a policy's exports and imports and whether it is valid",
		Example: "  agentsecrets policy inspect ./hmac.wasm\n  agentsecrets policy inspect bearer --json",
		Args:    exactArgs(1, "a .wasm file or a policy name"),
		RunE: func(c *cobra.Command, args []string) error {
			code, err := f.policyCode(args[0])
			if err != nil {
				return err
			}
			info, err := policies.Inspect(code)
			if err != nil {
				return &Error{Code: ExitUsage, Err: err, Msg: err.Error()}
			}
			if asJSON {
				if err := f.printJSON(info); err != nil {
					return err
				}
			} else {
				printPolicyInfo(f, args[0], info)
			}
			if !info.Valid {
				return &silentError{code: ExitUsage}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printPolicyInfo(f *Factory, name string, info policies.Info) {
	w := f.IO.Out
	fmt.Fprintf(w, "Policy:  %s\nSHA256:  %s\nSize:    %d bytes\n", name, info.SHA256, info.Size)
	if info.Valid {
		fmt.Fprintln(w, "Valid:   yes")
	} else {
		fmt.Fprintf(w, "Valid:   no (%s)\n", info.Problem)
	}
	fmt.Fprintln(w, "Exports:")
	for _, e := range info.Exports {
		fmt.Fprintln(w, "  "+e)
	}
	fmt.Fprintln(w, "Imports:")
	for _, i := range info.Imports {
		fmt.Fprintln(w, "  "+i)
	}
}

// policyCode loads a policy by file path, built-in name or registered name.
func (f *Factory) policyCode(ref string) ([]byte, error) {
	if strings.HasSuffix(ref, ".wasm") || strings.ContainsRune(ref, os.PathSeparator) {
		return readPolicyFile("agentsecrets policy inspect", ref)
	}
	if code, ok := wasm.Builtin(ref); ok {
		return code, nil
	}
	s, err := f.Store()
	if err != nil {
		return nil, err
	}
	code, _, err := f.Registry(s.Home()).Get(ref)
	if err != nil {
		return nil, &Error{Code: ExitNotFound, Err: err, Msg: err.Error(), Hint: "agentsecrets policy list"}
	}
	return code, nil
}

func newPolicyTestCmd(f *Factory) *cobra.Command {
	o := &callOptions{}
	cmd := &cobra.Command{
		Use:   "test --url URL [injection flags as for call]",
		Short: "Show the request a policy chain would send, secrets shown as [SECRET:KEY]",
		Long: `Run the policy chain against a sample request without opening any secret
and print the request it would send, every secret shown as [SECRET:KEY].
Nothing is sent. Keys that do not exist in the active environment are
reported, as a real call would.`,
		Example: `  agentsecrets policy test --url https://api.example.com/v1 --bearer API_KEY
  agentsecrets policy test --url https://api.example.com/hook --method POST \
      --body '{"a":1}' --policy ./hmac.wasm --param key=WEBHOOK_SECRET`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			call, err := buildCall(f, o)
			if err != nil {
				return err
			}
			u, err := url.Parse(call.URL)
			if err != nil || u.Host == "" {
				return usageError(c.CommandPath(), "--url is not an absolute URL %s", vault.Characters(call.URL))
			}
			engine, err := f.Engine()
			if err != nil {
				return err
			}
			known, err := f.knownKeys()
			if err != nil {
				return err
			}
			req := &hostfns.Request{Method: strings.ToUpper(call.Method), URL: u, Header: call.Header, Body: call.Body}
			res, err := engine.DryRun(c.Context(), call.Policies, req, known)
			if err != nil {
				return callError(policyTestError(err))
			}
			fmt.Fprint(f.IO.Out, res.Text)
			return nil
		},
	}
	addRequestFlags(cmd, o)
	return cmd
}

// knownKeys limits a dry run to the keys of the active environment, when
// there is one.
func (f *Factory) knownKeys() (func(string) bool, error) {
	s, err := f.Store()
	if err != nil {
		return nil, err
	}
	ctx, err := s.Context()
	if err != nil {
		return nil, nil // no project: any name is accepted in a dry run
	}
	names, err := s.Names(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	return func(k string) bool { return set[k] }, nil
}

func policyTestError(err error) error {
	var de *policies.DeniedError
	if e, ok := err.(*policies.DeniedError); ok {
		de = e
	}
	if de != nil && de.Secret != "" && !vault.IsKeyName(de.Secret) {
		// A name from --param, where a value may be typed: not repeated.
		return &Error{Code: ExitUsage, Err: err, Msg: "the policy opened a secret by a name that is not a key name " + vault.Characters(de.Secret),
			Hint: "a policy's params name secrets by key (--param key=STRIPE_KEY), never by value; agentsecrets secrets list shows the keys"}
	}
	if de != nil && de.Secret != "" {
		return &Error{Code: ExitNotFound, Err: err, Msg: fmt.Sprintf("secret %q does not exist in the active environment", de.Secret),
			Hint: "agentsecrets secrets list"}
	}
	return err
}
