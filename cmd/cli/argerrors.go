package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/The-17/agentsecrets/policies"
	"github.com/The-17/agentsecrets/vault"
)

// Usage errors never repeat what the user typed: a credential pasted where
// a command, a flag or a flag's value goes would be printed to stderr,
// which an agent reads. They say how long the argument was instead, and
// name only what the CLI itself defines (commands, flags).

// flagErrorText is a flag parsing error that names the flag when the CLI
// defines it, never the argument or the value given, and says what the
// flag takes rather than the Go parser's words.
func flagErrorText(c *cobra.Command, err error) string {
	var (
		notExist *pflag.NotExistError
		needsArg *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
		syntax   *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &notExist):
		return unknownFlagText(c, notExist)
	case errors.As(err, &needsArg) && needsArg.GetFlag() != nil:
		return "flag needs an argument: --" + needsArg.GetFlag().Name
	case errors.As(err, &invalid) && invalid.GetFlag() != nil:
		fl := invalid.GetFlag()
		return fmt.Sprintf("invalid value %s for --%s: want %s", vault.Characters(invalid.GetValue()), fl.Name, flagWants(fl))
	case errors.As(err, &syntax):
		return "bad flag syntax " + vault.Characters(syntax.GetSpecifiedFlag())
	}
	return err.Error()
}

// unknownFlagText names an unknown flag only when another command
// defines it (agentsecrets secrets list --yes); anything else might be a
// value.
func unknownFlagText(c *cobra.Command, e *pflag.NotExistError) string {
	if short := e.GetSpecifiedShortnames(); short != "" {
		name := e.GetSpecifiedName()[:1]
		if definedFlag(c.Root(), func(fl *pflag.Flag) bool { return fl.Shorthand == name }) {
			return "unknown flag: -" + name
		}
		return "unknown flag " + vault.Characters("-"+short)
	}
	name := e.GetSpecifiedName()
	if definedFlag(c.Root(), func(fl *pflag.Flag) bool { return fl.Name == name }) {
		return "unknown flag: --" + name
	}
	return "unknown flag " + vault.Characters("--"+name)
}

// definedFlag reports whether a flag of c or of a command below it
// matches.
func definedFlag(c *cobra.Command, match func(*pflag.Flag) bool) bool {
	found := false
	visit := func(fl *pflag.Flag) { found = found || match(fl) }
	c.LocalFlags().VisitAll(visit)
	c.PersistentFlags().VisitAll(visit)
	for _, sub := range c.Commands() {
		found = found || definedFlag(sub, match)
	}
	return found
}

// flagWants says what a typed flag takes.
func flagWants(fl *pflag.Flag) string {
	switch fl.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		return "a whole number"
	case "bool":
		return "true or false"
	case "duration":
		return "a duration such as 30s, 2m or 1h30m"
	}
	return "a valid " + fl.Value.Type()
}

// unknownCommand refuses arg as a subcommand of c, suggesting command
// names close to it.
func unknownCommand(c *cobra.Command, arg string) error {
	msg := "unknown command " + vault.Characters(arg)
	if c.HasParent() {
		msg += fmt.Sprintf(" for %q", c.CommandPath())
	}
	hint := "run " + c.CommandPath() + " --help to see the commands"
	if s := suggestions(c, arg); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, ", ") + "? " + hint
	}
	return newError(ExitUsage, hint, "%s", msg)
}

// suggestions are the full names of c's subcommands close to arg, as
// cobra's "did you mean": names the CLI defines, never the argument.
func suggestions(c *cobra.Command, arg string) []string {
	if c.DisableSuggestions {
		return nil
	}
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	var out []string
	for _, name := range c.SuggestionsFor(arg) {
		out = append(out, c.CommandPath()+" "+name)
	}
	return out
}

// noArgs is cobra.NoArgs without repeating the argument.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(c.CommandPath(), "%s takes no arguments (got %d)", c.CommandPath(), len(args))
	}
	return nil
}

// injectionError explains a refused injection flag from the parser's
// InjectionError, saying which part of the argument is wrong but not what
// it holds: a value typed for KEY would otherwise be printed.
func injectionError(cmdPath string, err error) error {
	var ie *policies.InjectionError
	if !errors.As(err, &ie) {
		return usageError(cmdPath, "invalid injection flag")
	}
	switch ie.Part {
	case "=":
		return usageError(cmdPath, "--%s: want %s: no '=' %s", ie.Style, ie.Form, vault.Characters(ie.Arg))
	case "key":
		return newError(ExitUsage, "KEY is the name of a secret, never its value: agentsecrets secrets list shows the names",
			"--%s: want %s: invalid secret name %s", ie.Style, ie.Form, vault.Characters(ie.Bad))
	}
	part := ie.Part
	if part == "name" {
		part = "header name"
	}
	return usageError(cmdPath, "--%s: want %s: invalid %s %s", ie.Style, ie.Form, part, vault.Characters(ie.Arg))
}
