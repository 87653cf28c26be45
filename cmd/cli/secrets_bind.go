package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/The-17/agentsecrets/runner"
	"github.com/The-17/agentsecrets/vault"
)

// bindingRules is the part of the help shared by bind and unbind.
const bindingRules = `A secret with no binding may be sent to any domain on the workspace
allowlist; a bound secret only to the allowlisted hosts its binding matches
(exact hosts, or "*.example.com" for subdomains). Changes that narrow where a
secret may go apply at once: binding a secret that had no binding, replacing a
binding with one that matches fewer hosts, removing some of its domains. A
change that lets the secret reach a host it could not reach before (a domain
outside the current binding, or removing the binding altogether) is shown on
the terminal and a human confirms it by typing it back, or "yes". There is no
flag to skip this: without a terminal the command fails with exit code 4 and
nothing changes.

Bindings belong to one environment of one project (the active one, or --env
and --project). Deleting a secret drops its binding; setting a new value keeps
it.`

func newSecretsBindCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "bind KEY DOMAIN [DOMAIN...]",
		Short: "Restrict a secret to these domains (widening needs a human at a terminal)",
		Long: `Bind KEY to exactly the given domains: from now on it is only sent to hosts
they match, and only when those hosts are on the workspace allowlist too.

` + bindingRules,
		Example: `  agentsecrets secrets bind STRIPE_KEY api.stripe.com
  agentsecrets secrets bind --env production GITHUB_TOKEN api.github.com '*.githubusercontent.com'`,
		Args: minArgs(2, "a KEY and one or more DOMAINs"),
		RunE: func(_ *cobra.Command, args []string) error {
			key := args[0]
			if err := vault.ValidateKeyName(key); err != nil {
				return err
			}
			next, err := vault.NormalizeDomains(args[1:])
			if err != nil {
				return err
			}
			slices.Sort(next)
			s, ctx, current, err := f.currentBinding(key)
			if err != nil {
				return err
			}
			where := secretWhere(key, ctx)
			if slices.Equal(current, next) {
				fmt.Fprintf(f.IO.Out, "%s is already bound to: %s\n", where, strings.Join(next, " "))
				return nil
			}
			if wider := widening(current, next); len(wider) > 0 {
				c := bindingChange{key: key, where: where, current: current, next: next, added: wider,
					cmdLine: f.commandLine("secrets bind", append([]string{key}, next...))}
				if err := f.confirmBindingChange(c); err != nil {
					return err
				}
			}
			if err := replaceBinding(s, ctx, key, current, next); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Bound %s to: %s\n", where, strings.Join(next, " "))
			if len(current) > 0 {
				fmt.Fprintf(f.IO.Out, "(was: %s)\n", strings.Join(current, " "))
			}
			return nil
		},
	}
}

func newSecretsUnbindCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "unbind KEY [DOMAIN...]",
		Short: "Remove domains from a secret's binding, or the whole binding (a human confirms at a terminal)",
		Long: `With DOMAINs, remove them from KEY's binding; each must be in it (exit code 6
otherwise). Without, remove the binding: KEY may then be sent to any domain on
the workspace allowlist. Removing the last domain removes the binding.

` + bindingRules,
		Example: `  agentsecrets secrets unbind STRIPE_KEY api.stripe.com
  agentsecrets secrets unbind STRIPE_KEY`,
		Args: minArgs(1, "a KEY and optionally DOMAINs"),
		RunE: func(_ *cobra.Command, args []string) error {
			key := args[0]
			if err := vault.ValidateKeyName(key); err != nil {
				return err
			}
			remove, err := vault.NormalizeDomains(args[1:])
			if err != nil {
				return err
			}
			s, ctx, current, err := f.currentBinding(key)
			if err != nil {
				return err
			}
			where := secretWhere(key, ctx)
			for _, d := range remove {
				if !slices.Contains(current, d) {
					return newError(ExitNotFound, f.commandLine("secrets list", nil),
						"domain %q is not in the binding of %s", d, where)
				}
			}
			if len(current) == 0 {
				fmt.Fprintf(f.IO.Out, "%s is not bound to any domain; nothing to do\n", where)
				return nil
			}
			next := []string{}
			if len(remove) > 0 {
				next = slices.DeleteFunc(slices.Clone(current), func(d string) bool { return slices.Contains(remove, d) })
			}
			if len(next) == 0 {
				c := bindingChange{key: key, where: where, current: current,
					cmdLine: f.commandLine("secrets unbind", append([]string{key}, remove...))}
				if err := f.confirmBindingChange(c); err != nil {
					return err
				}
			}
			if err := replaceBinding(s, ctx, key, current, next); err != nil {
				return err
			}
			if len(next) == 0 {
				fmt.Fprintf(f.IO.Out, "Removed the binding of %s: it may be sent to any domain on the workspace allowlist\n", where)
				return nil
			}
			fmt.Fprintf(f.IO.Out, "Removed %s from the binding of %s; bound to: %s\n",
				strings.Join(remove, " "), where, strings.Join(next, " "))
			return nil
		},
	}
}

func newSecretsExpireCmd(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "expire KEY DATE|never",
		Short: "Record when a secret expires, or clear it with never",
		Long: `Record when KEY's value in the active environment (or --env) stops being
valid, so ` + "`secrets list`" + ` can flag it. DATE is YYYY-MM-DD (the start of that
day, UTC) or an RFC 3339 time; "never" clears it. The expiry is a reminder for
the human: calls are not refused because of it. Setting a new value keeps the
expiry; ` + "`secrets set KEY --expires DATE`" + ` sets both at once.`,
		Example: `  agentsecrets secrets expire STRIPE_KEY 2027-01-31
  agentsecrets secrets expire STRIPE_KEY 2027-01-31T12:00:00+01:00
  agentsecrets secrets expire STRIPE_KEY never`,
		Args: exactArgs(2, "a KEY and a DATE (or never)"),
		RunE: func(_ *cobra.Command, args []string) error {
			key := args[0]
			if err := vault.ValidateKeyName(key); err != nil {
				return err
			}
			expires, err := parseExpiry(args[1])
			if err != nil {
				return err
			}
			s, ctx, err := f.storedSecret(key)
			if err != nil {
				return err
			}
			if err := s.SetExpiry(ctx, key, expires); err != nil {
				return err
			}
			where := secretWhere(key, ctx)
			if expires == nil {
				fmt.Fprintf(f.IO.Out, "%s has no expiry\n", where)
				return nil
			}
			fmt.Fprintf(f.IO.Out, "%s expires %s\n", where, formatExpiry(*expires))
			f.warnExpired(key, *expires)
			return nil
		},
	}
}

// parseExpiry reads an expiry argument: YYYY-MM-DD (00:00 UTC that day),
// an RFC 3339 time, or "never" (nil). A refused argument is not repeated:
// a value may be typed where the date goes.
func parseExpiry(s string) (*time.Time, error) {
	if strings.EqualFold(s, "never") {
		return nil, nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, newError(ExitUsage, "give a date such as 2027-01-31, an RFC 3339 time such as 2027-01-31T12:00:00Z, or never",
		"invalid expiry %s: not a date, an RFC 3339 time or never", vault.Characters(s))
}

// formatExpiry shows a date alone when the time is midnight UTC.
func formatExpiry(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// warnExpired warns when an expiry just recorded has already passed.
func (f *Factory) warnExpired(key string, t time.Time) {
	if !t.After(time.Now()) {
		fmt.Fprintf(f.IO.ErrOut, "agentsecrets: warning: %s is past: %s is listed as expired\n", formatExpiry(t), key)
	}
}

// currentBinding opens the secret key (which must exist in the active
// environment) and returns its binding, sorted.
func (f *Factory) currentBinding(key string) (*vault.Store, vault.Context, []string, error) {
	s, ctx, err := f.storedSecret(key)
	if err != nil {
		return nil, vault.Context{}, nil, err
	}
	e, err := s.Entry(ctx, key)
	if err != nil {
		return nil, vault.Context{}, nil, err
	}
	return s, ctx, sortedCopy(e.Domains), nil
}

// secretWhere names a secret in its project and environment for messages.
func secretWhere(key string, ctx vault.Context) string {
	return fmt.Sprintf("%s in %s (%s)", key, ctx.Project, ctx.Environment)
}

// widening returns the domains of next that let a secret bound to current
// reach a host it could not reach before. An unbound secret (current
// empty) may already reach every allowlisted host, so nothing widens it.
func widening(current, next []string) []string {
	if len(current) == 0 {
		return nil
	}
	var out []string
	for _, d := range next {
		if !bindingCovers(current, d) {
			out = append(out, d)
		}
	}
	return out
}

// bindingCovers reports whether every host domain d matches is matched by
// binding already, under the runner's matching rules.
func bindingCovers(binding []string, d string) bool {
	suffix, wild := strings.CutPrefix(d, "*.")
	if !wild {
		ok, _ := runner.Allowlist(binding).Match(d)
		return ok
	}
	for _, b := range binding {
		if bs, ok := strings.CutPrefix(b, "*."); ok && (suffix == bs || strings.HasSuffix(suffix, "."+bs)) {
			return true
		}
	}
	return false
}

// replaceBinding stores next as key's binding, provided the stored one is
// still current, the binding the change was decided (and confirmed) on.
func replaceBinding(s *vault.Store, ctx vault.Context, key string, current, next []string) error {
	return s.EditBinding(ctx, key, func(stored []string) ([]string, error) {
		if !slices.Equal(sortedCopy(stored), current) {
			return nil, newError(ExitError, "check `agentsecrets secrets list` and run the command again",
				"the binding of %s changed while this command ran; nothing changed", key)
		}
		return next, nil
	})
}

func sortedCopy(domains []string) []string {
	out := slices.Clone(domains)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

// bindingChange is a widening change a human must confirm.
type bindingChange struct {
	key, where string
	current    []string
	// next is the binding after the change; none removes it.
	next []string
	// added are the domains of next the current binding does not cover.
	added   []string
	cmdLine string
}

// confirmBindingChange shows a widening change on the controlling
// terminal and wants it typed back (the added domains, or the key name
// when the binding is removed), or "yes".
func (f *Factory) confirmBindingChange(c bindingChange) error {
	tty, err := f.IO.TTY()
	if err != nil {
		return newError(ExitAuth, "ask the user to run this in their terminal: "+c.cmdLine,
			"changes that let %s reach more domains need a human at a terminal, and there is none; nothing changed", c.key)
	}
	defer tty.Close()
	want := "the domain(s) above"
	if len(c.next) == 0 {
		tty.Printf("About to REMOVE the domain binding of %s.\n", c.where)
		tty.Printf("It is bound to: %s\n", strings.Join(c.current, " "))
		tty.Printf("Without a binding it may be sent to ANY domain on the workspace allowlist.\n")
		want = c.key
	} else {
		tty.Printf("About to let %s be SENT TO domains outside its binding:\n", c.where)
		for _, d := range c.added {
			tty.Printf("  %s\n", d)
		}
		tty.Printf("Bound now to: %s\nBound after:  %s\n", strings.Join(c.current, " "), strings.Join(c.next, " "))
	}
	answer, err := tty.Prompt(fmt.Sprintf("Type %s, or \"yes\", to confirm: ", want))
	if err != nil {
		return err
	}
	if confirmed(answer, c) {
		return nil
	}
	return newError(ExitError, "run it again and type the confirmation exactly: "+c.cmdLine,
		"confirmation did not match; nothing changed")
}

// confirmed reports whether answer confirms c: "yes", the key name when
// the binding is removed, or else the added domains in any order.
func confirmed(answer string, c bindingChange) bool {
	answer = strings.TrimSpace(answer)
	if strings.EqualFold(answer, "yes") {
		return true
	}
	if len(c.next) == 0 {
		return answer == c.key
	}
	typed, err := vault.NormalizeDomains(strings.Fields(answer))
	if err != nil {
		return false
	}
	slices.Sort(typed)
	return slices.Equal(typed, sortedCopy(c.added))
}

// commandLine is the command a human would type to do the same, with the
// --project and --env flags given to this one, quoted for a POSIX shell
// (a "*.example.com" binding must reach the command, not the shell's
// globbing).
func (f *Factory) commandLine(cmd string, args []string) string {
	parts := []string{"agentsecrets", cmd}
	if f.Project != "" {
		parts = append(parts, "--project", shellQuote(f.Project))
	}
	if f.Environment != "" {
		parts = append(parts, "--env", shellQuote(f.Environment))
	}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}
