package paging

import (
	"go/build"
	"strings"
	"testing"
)

// TestNoIO fails if the domain core imports IO or edge packages directly.
// fmt pulls in os, so os is banned only as a direct import; the others are
// banned anywhere in the core's own imports.
func TestNoIO(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	banned := []string{"net", "os", "os/exec", "syscall", "go.etcd.io/bbolt", "go.bug.st/serial", "github.com/gin-gonic/gin", "database/sql"}
	for _, imp := range pkg.Imports {
		for _, b := range banned {
			if imp == b || strings.HasPrefix(imp, b+"/") || strings.HasPrefix(imp, "net/") {
				t.Errorf("domain core imports %s", imp)
			}
		}
		if strings.HasPrefix(imp, "pagebridge/") {
			t.Errorf("domain core imports project package %s", imp)
		}
	}
}
