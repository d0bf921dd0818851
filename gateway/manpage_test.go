package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The package's man page documents every command the usage lists, so that
// a new command cannot ship without it.
func TestManPageHasEveryCommand(t *testing.T) {
	b, err := os.ReadFile("../packaging/man/pagebridge.8")
	if err != nil {
		t.Fatal(err)
	}
	_, commands, ok := strings.Cut(string(b), "\n.SH COMMANDS\n")
	if !ok {
		t.Fatal("no COMMANDS section")
	}
	commands, _, _ = strings.Cut(commands, "\n.SH ")
	var macros []string // the .B/.BI/.BR/.IR lines that name commands
	macro := regexp.MustCompile(`^\.(B|BI|BR|IR) `)
	for l := range strings.Lines(commands) {
		if macro.MatchString(l) {
			macros = append(macros, strings.ReplaceAll(l, `"`, ""))
		}
	}
	names := regexp.MustCompile(`(?m)^  ([a-z][a-z-]*(?: (?:verify|rotate|create))?)\s`).FindAllStringSubmatch(usage, -1)
	if len(names) < 10 {
		t.Fatalf("found %d commands in the usage", len(names))
	}
	for _, n := range names {
		found := false
		for _, m := range macros {
			if strings.Contains(m, " "+n[1]+" ") || strings.HasSuffix(strings.TrimSpace(m), " "+n[1]) {
				found = true
			}
		}
		if !found {
			t.Errorf("pagebridge(8) does not document %q", n[1])
		}
	}
}
