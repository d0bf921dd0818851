package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

type sample struct {
	Server struct {
		Listen  string   `toml:"listen"`
		Timeout Duration `toml:"timeout"`
		Names   []string `toml:"names"`
	} `toml:"server"`
	Log struct {
		Level string `toml:"level"`
	} `toml:"log"`
	Sender []sender `toml:"sender"`
}

type sender struct {
	ID   string `toml:"id"`
	Rule struct {
		Match string `toml:"match"`
	} `toml:"rule"`
}

func TestCommented(t *testing.T) {
	var def sample
	def.Server.Listen = "0.0.0.0:443"
	def.Server.Timeout = Duration{5 * time.Second}
	def.Server.Names = []string{"a", "b"}
	def.Log.Level = "info"
	def.Sender = []sender{{ID: "x"}}
	def.Sender[0].Rule.Match = "CODE BLUE"
	b, err := Commented("Sample configuration.\n\n[[sender]] tables are described in the guide.\n", def)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		"# Sample configuration.\n#\n# [[sender]] tables are described in the guide.\n",
		"\n[server]\n# listen = \"0.0.0.0:443\"\n# timeout = \"5s\"\n# names = [\"a\", \"b\"]\n",
		"\n[log]\n# level = \"info\"\n",
		"# [[sender]]\n# id = \"x\"\n# [sender.rule]\n# match = \"CODE BLUE\"\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	// As shipped it sets nothing; with every key uncommented it sets the
	// defaults again.
	var shipped sample
	if _, err := toml.Decode(text, &shipped); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shipped, sample{}) {
		t.Errorf("commented file sets %+v", shipped)
	}
	var all sample
	if _, err := toml.Decode(Uncomment(text), &all); err != nil {
		t.Fatalf("%v in\n%s", err, Uncomment(text))
	}
	if !reflect.DeepEqual(all, def) {
		t.Errorf("uncommented: %+v, want %+v", all, def)
	}
}
