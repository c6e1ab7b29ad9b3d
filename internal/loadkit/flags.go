package loadkit

import (
	"fmt"
	"regexp"
	"strings"
)

// EnvFlag is a repeatable KEY=VALUE command-line flag of settings for a
// started facade. Keys in Reserved are set by the command itself and are
// refused, with Owner ("this tool") named in the error.
type EnvFlag struct {
	Values   []string
	Reserved map[string]bool
	Owner    string
}

var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (e *EnvFlag) String() string {
	if e == nil {
		return ""
	}
	return strings.Join(e.Values, " ")
}

// Set takes one KEY=VALUE.
func (e *EnvFlag) Set(v string) error {
	k, _, ok := strings.Cut(v, "=")
	if !ok || !envKey.MatchString(k) {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	if e.Reserved[k] {
		return fmt.Errorf("%s is set by %s", k, e.Owner)
	}
	e.Values = append(e.Values, v)
	return nil
}

// FmtMs formats milliseconds with two, one or no decimals, by size.
func FmtMs(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	case v >= 10:
		return fmt.Sprintf("%.1fms", v)
	}
	return fmt.Sprintf("%.2fms", v)
}
