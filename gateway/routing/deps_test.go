package routing

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestPure fails if the package imports IO or anything of the project but
// the domain core, or reads the clock: every function takes now.
func TestPure(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	banned := []string{"net", "os", "syscall", "io/fs", "database/sql", "go.etcd.io/bbolt", "go.bug.st/serial",
		"github.com/gin-gonic/gin", "math/rand", "crypto/rand"}
	for _, imp := range pkg.Imports {
		for _, b := range banned {
			if imp == b || strings.HasPrefix(imp, b+"/") {
				t.Errorf("routing imports %s", imp)
			}
		}
		if strings.Contains(imp, ".") && !strings.HasPrefix(imp, "pagebridge/") || strings.HasPrefix(imp, "pagebridge/") && imp != "pagebridge/gateway/paging" {
			t.Errorf("routing imports %s; only the standard library and pagebridge/gateway/paging are allowed", imp)
		}
	}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true}
	fset := token.NewFileSet()
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "time" && clock[sel.Sel.Name] {
					t.Errorf("%s: time.%s: take now as an argument", fset.Position(sel.Pos()), sel.Sel.Name)
				}
			}
			return true
		})
	}
}
