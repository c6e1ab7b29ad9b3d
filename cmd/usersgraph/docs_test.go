package main

import (
	"os"
	"strings"
	"testing"
)

// Every setting has its row in the configuration reference, with its flag
// and its default, so the docs cannot fall behind the code.
func TestEverySettingIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 4 && strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, s := range settings {
		row, ok := rows[s.env]
		if !ok {
			t.Errorf("%s is not in docs/configuration.md", s.env)
			continue
		}
		if !strings.Contains(row, "`-"+s.flag+"`") {
			t.Errorf("%s: its row does not name the flag -%s", s.env, s.flag)
		}
		if s.def != "" && !strings.Contains(row, "`"+s.def+"`") {
			t.Errorf("%s: its row does not give the default %q", s.env, s.def)
		}
	}
}
