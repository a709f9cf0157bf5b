package users

import (
	"fmt"
	"slices"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestScanLayout checks the scanner against the toml package on TOML that
// is easy to get wrong, and checks the line of every key.
func TestScanLayout(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		lines []string // "key:line" for every key, in order
	}{
		{"tables and keys", "a = 1\n[t]\nb = 2\n\n[ t . u ]\nc.d = 3\n",
			[]string{"a:1", "t:2", "t.b:3", "t.u:5", "t.u.c.d:6"}},
		{"quoted keys", "[\"q.x\".'y z']\n\"\\u0061\" = 1\n\"\" = 2\n'\\n' = 3\n",
			[]string{`"q.x"."y z":1`, `"q.x"."y z".a:2`, `"q.x"."y z"."":3`, `"q.x"."y z"."\\n":4`}},
		{"multi-line strings", "a = \"\"\"\n[not]\nb = 1 \"\"\"\nx = \"\"\"ab\\\"\"\"\"\"\"\nc = '''x\n'' ''' # c\nd = \"\\\"\"\ne = 'it\"s'\nf = '''''x'''''\n",
			[]string{"a:1", "x:4", "c:5", "d:7", "e:8", "f:9"}},
		{"strings holding syntax", "a = \"# [x] = {\" # [y]\nb = '\\'\n[t] # comment [u]\nc = \"}]\"\n",
			[]string{"a:1", "b:2", "t:3", "t.c:4"}},
		{"arrays", "a = [\n  1, # ]\n  [2, [3]],\n  \"]\",\n]\nb = []\n",
			[]string{"a:1", "b:6"}},
		{"inline tables", "a = { b = 1, c = { d = [ {e = 1}, {e = 2} ] }, f.g = 3 }\nh = 1\n",
			nil},
		{"multi-line inline table", "a = {\n  b = 1,\n  # comment\n  c = [1,\n 2],\n}\nd = 1\n",
			[]string{"a:1", "a.b:2", "a.c:4", "d:7"}},
		{"date-times", "a = 1979-05-27 07:32:00Z\nb = 07:32:00 # t\nc = [1979-05-27T00:32:00.999999-07:00, 1979-05-27 00:32:00]\n",
			[]string{"a:1", "b:2", "c:3"}},
		{"numbers", "a = +inf\nb = 0xdead_beef\nc=0o7\nd = -1_000.5e-3\ne = nan\n", nil},
		{"array tables", "[[x]]\na = 1\n[[x]]\na = 2\n[x.y]\n", []string{"x:1", "x.a:2", "x:3", "x.a:4", "x.y:5"}},
		{"CRLF and BOM", "\xef\xbb\xbfa = 1\r\n[t]\r\nb = \"\"\"\r\n\"\"\"\r\n", []string{"a:1", "t:2", "t.b:3"}},
		{"no final newline", "[t]\na = 1 # c", []string{"t:1", "t.a:2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md, err := toml.Decode(tt.in, &struct{}{})
			if err != nil {
				t.Fatalf("test input is not TOML: %v", err)
			}
			lay, err := scanLayout(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := keyStrings(layoutKeys(lay)), keyStrings(md.Keys()); !slices.Equal(got, want) {
				t.Errorf("keys:\n got %q\nwant %q", got, want)
			}
			if tt.lines == nil {
				return
			}
			var got []string
			for _, kp := range lay.keys {
				got = append(got, fmt.Sprintf("%s:%d", kp.key, kp.line))
			}
			if !slices.Equal(got, tt.lines) {
				t.Errorf("lines:\n got %q\nwant %q", got, tt.lines)
			}
		})
	}
}

func TestScanStatements(t *testing.T) {
	const in = "# c\n[users.alice] # hi\n  password = '''\nx''' # tail\n\tdemo = true\n"
	lay, err := scanLayout(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []stmt{
		{kind: stmtTable, path: []string{"users", "alice"}, first: 2, last: 2, tail: " # hi"},
		{kind: stmtKeyValue, path: []string{"users", "alice", "password"}, nkey: 1, first: 3, last: 4, indent: "  ", tail: " # tail"},
		{kind: stmtKeyValue, path: []string{"users", "alice", "demo"}, nkey: 1, first: 5, last: 5, indent: "\t"},
	}
	if len(lay.stmts) != len(want) {
		t.Fatalf("got %d statements, want %d: %+v", len(lay.stmts), len(want), lay.stmts)
	}
	for i, st := range lay.stmts {
		w := want[i]
		if st.kind != w.kind || !slices.Equal(st.path, w.path) || st.nkey != w.nkey || st.first != w.first || st.last != w.last || st.indent != w.indent || st.tail != w.tail {
			t.Errorf("statement %d = %+v, want %+v", i, st, w)
		}
	}
}
