package users

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cubby-dev/cubby/auth"
)

func TestReadRoster(t *testing.T) {
	const in = "\uFEFFEmail , NAME,quota\r\n" +
		"s01@example.edu,s01,500MiB\r\n" +
		",,\r\n" + // an empty spreadsheet row
		" s02@example.edu , s02 ,\r\n" +
		"\"s03@example.edu\",\"s03\",\"1 GiB\"\r\n" +
		"x@y,Bob,\r\n" +
		"x@y,s01,\r\n" +
		"no-at-sign,s04,\r\n" +
		"s05@example.edu,s05,1.5GiB\r\n" +
		"s06@example.edu,s06\r\n" +
		",,1GiB\r\n" +
		"\"multi\nline@x\",s07,\r\n" +
		"s08@example.edu,s08,0\r\n" +
		"\"=HYPERLINK(\"\"http://x.example/\"\")@x\",s09,\r\n" +
		"s10\u202e@example.edu,s10,\r\n"
	ro, err := ReadRoster("roster.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []RosterEntry{
		{Line: 2, Name: "s01", Email: "s01@example.edu", Quota: "500MiB"},
		{Line: 4, Name: "s02", Email: "s02@example.edu"},
		{Line: 5, Name: "s03", Email: "s03@example.edu", Quota: "1 GiB"},
		{Line: 14, Name: "s08", Email: "s08@example.edu", Quota: "0"},
	}
	if !slices.Equal(ro.Entries, want) {
		t.Errorf("Entries:\n%+v\nwant:\n%+v", ro.Entries, want)
	}
	wantBad := []string{
		`roster.csv:6: user name "Bob": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`,
		`roster.csv:7: s01 is already on line 2`,
		`roster.csv:8: s04: email "no-at-sign" has no "@"`,
		`roster.csv:9: s05: quota: bad size "1.5GiB": fractions are not supported; use a smaller unit, such as 1536MiB for 1.5GiB`,
		`roster.csv:10: 2 fields, but the header has 3`,
		`roster.csv:11: no name`,
		`roster.csv:12: s07: email "multi\nline@x" contains a line break or another control character`,
		`roster.csv:15: s09: email "=HYPERLINK(\"http://x.example/\")@x" starts with "=", "+", "-" or "@", which a spreadsheet takes for a formula`,
		`roster.csv:16: s10: email "s10\u202e@example.edu" contains an invisible formatting character`,
	}
	var bad []string
	for _, e := range ro.Bad {
		bad = append(bad, e.Error())
	}
	if !slices.Equal(bad, wantBad) {
		t.Errorf("Bad:\n%s\nwant:\n%s", strings.Join(bad, "\n"), strings.Join(wantBad, "\n"))
	}
}

func TestReadRosterNameOnly(t *testing.T) {
	ro, err := ReadRoster("r.csv", strings.NewReader("name\nalice\n\nbob"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []RosterEntry{{Line: 2, Name: "alice"}, {Line: 4, Name: "bob"}}; !slices.Equal(ro.Entries, want) || len(ro.Bad) != 0 {
		t.Errorf("Entries %+v, Bad %v; want %+v and none", ro.Entries, ro.Bad, want)
	}
}

// TestReadRosterRefuses checks the problems that stop the whole import.
func TestReadRosterRefuses(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", `r.csv:1: the file is empty; the first row must be a header such as name,email,quota`},
		{"byte order mark only", "\uFEFF\n\n", `r.csv:1: the file is empty; the first row must be a header such as name,email,quota`},
		{"no header", "alice,alice@example.edu\nbob,bob@example.edu\n",
			`r.csv:1: unknown columns "alice", "alice@example.edu" (the first row must be a header: name, and optionally email and quota)`},
		{"unknown column", "name,phone\nalice,123\n",
			`r.csv:1: unknown column "phone" (the first row must be a header: name, and optionally email and quota)`},
		{"no name column", "email,quota\na@b,1GiB\n",
			`r.csv:1: no name column (the first row must be a header: name, and optionally email and quota)`},
		{"column twice", "name,email,Name\n",
			`r.csv:1: the header has the column name twice`},
		{"semicolons", "name;email\nalice;a@b\n",
			`r.csv:1: the header "name;email" is one column: the file seems to be separated by semicolons; save it as CSV with commas`},
		{"unclosed quote", "name,email\nalice,a@b\n\"bob,b@c\ncarol,c@d\n",
			`r.csv:3: CSV syntax error: extraneous or missing " in quoted-field (line 4, column 11)`},
		{"bare quote", "name,email\nal\"ice,a@b\nbob,b@c\n",
			`r.csv:2: CSV syntax error: bare " in non-quoted-field (line 2, column 3)`},
		{"too many rows", "name\n" + strings.Repeat("a\n", MaxRosterRows) + "b\n",
			fmt.Sprintf(`r.csv:%d: more than %d rows; split the roster into several files`, MaxRosterRows+2, MaxRosterRows)},
		{"too large", "name\n" + strings.Repeat("a", MaxRosterBytes),
			`users: roster r.csv is larger than 4 MiB; split it into several files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ro, err := ReadRoster("r.csv", strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadRoster = %+v; want error %q", ro, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestOneTimePassword(t *testing.T) {
	shape := regexp.MustCompile(`^[` + otpAlphabet + `]{4}(-[` + otpAlphabet + `]{4}){3}$`)
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 2000
	for range n {
		pw := NewOneTimePassword()
		if !shape.MatchString(pw) {
			t.Fatalf("NewOneTimePassword() = %q; want 4 groups of 4 from %q", pw, otpAlphabet)
		}
		if seen[pw] {
			t.Fatalf("NewOneTimePassword() repeated %q", pw)
		}
		seen[pw] = true
		for _, r := range strings.ReplaceAll(pw, "-", "") {
			counts[r]++
		}
	}
	if strings.ContainsAny(otpAlphabet, "0o1liI") {
		t.Errorf("the alphabet %q has look-alike characters", otpAlphabet)
	}
	// 32000 characters over 31 letters: about 1032 each. A letter never or
	// rarely drawn means a broken draw (the bounds are over 10 sigma).
	for _, r := range otpAlphabet {
		if c := counts[r]; c < 700 || c > 1400 {
			t.Errorf("%q drawn %d times in %d passwords; want about %d", r, c, n, n*16/len(otpAlphabet))
		}
	}
}

// importFile writes a users file and, beside it, a roster, and returns
// the users file's path and the roster read.
func importFile(t *testing.T, users, roster string) (string, *Roster) {
	t.Helper()
	usersPath := writeFile(t, users)
	rosterPath := filepath.Join(filepath.Dir(usersPath), "roster.csv")
	if err := os.WriteFile(rosterPath, []byte(roster), 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := LoadRoster(rosterPath)
	if err != nil {
		t.Fatal(err)
	}
	return usersPath, ro
}

func noteStrings(notes []*ParseError) []string {
	var s []string
	for _, n := range notes {
		s = append(s, n.Error())
	}
	return s
}

func TestImport(t *testing.T) {
	path, ro := importFile(t, expand("# lab accounts\n[users.s02]\npassword = \"@v1\"\ndisabled = true\n"),
		"name,email,quota\ns01,s01@example.edu,500MiB\ns02,,\nBad,,\ns03,,\n")
	var sheet []Account
	res, err := Import(path, ro, ImportOptions{KDF: cheapKDF, Sheet: func(a []Account) error {
		// The file is still as it was when the sheet is written.
		if c, err := Load(path); err != nil || len(c.Users) != 1 {
			t.Errorf("users file changed before the sheet was written: %v", err)
		}
		sheet = slices.Clone(a)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bad != 1 || res.Existing != 1 || len(res.Added) != 2 {
		t.Errorf("result %+v; want 2 added, 1 existing, 1 bad", res)
	}
	wantNotes := []string{
		ro.Path + `:3: s02 already exists; skipped`,
		ro.Path + `:4: user name "Bad": must start with a lowercase letter or _ and contain only a-z 0-9 _ -, at most 32 characters`,
	}
	if got := noteStrings(res.Notes); !slices.Equal(got, wantNotes) {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantNotes, "\n"))
	}
	if !slices.Equal(sheet, res.Added) {
		t.Errorf("sheet %+v; want the added accounts %+v", sheet, res.Added)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Added {
		u := c.Users[a.Name]
		if u == nil || !u.MustChangePassword || u.Email != a.Email || !passwordMatches(u.Verifier, a.Password) {
			t.Errorf("user %s = %+v; want must_change_password, email %q and the sheet's password", a.Name, u, a.Email)
		}
	}
	if c.Users["s01"].Quota != 500<<20 || c.Users["s03"].Quota != 0 {
		t.Errorf("quotas s01 %d, s03 %d; want 500MiB and the default", c.Users["s01"].Quota, c.Users["s03"].Quota)
	}
	if s02 := c.Users["s02"]; !s02.Disabled || s02.MustChangePassword {
		t.Errorf("the existing s02 was changed: %+v", s02)
	}
	if text := readFile(t, path); !strings.HasPrefix(text, "# lab accounts\n") || strings.Contains(text, res.Added[0].Password) {
		t.Errorf("users file lost its comment or holds a password:\n%s", text)
	}
	checkMode(t, path)

	// Again: everyone is skipped, nothing is written, no sheet.
	before := readFile(t, path)
	res, err = Import(path, ro, ImportOptions{KDF: cheapKDF, Sheet: func([]Account) error {
		t.Error("Sheet called with nothing to create")
		return nil
	}})
	if err != nil || res.Existing != 3 || len(res.Added) != 0 || res.Bad != 1 {
		t.Errorf("second import: %+v, %v; want 3 existing, 1 bad", res, err)
	}
	if readFile(t, path) != before {
		t.Error("the second import changed the file")
	}
}

func TestImportAllOrNothing(t *testing.T) {
	path, ro := importFile(t, "", "name\ns01\ns01\n")
	res, err := Import(path, ro, ImportOptions{AllOrNothing: true, KDF: cheapKDF})
	if !errors.Is(err, ErrBadRoster) {
		t.Fatalf("Import = %v; want ErrBadRoster", err)
	}
	if want := []string{ro.Path + ":3: s01 is already on line 2"}; !slices.Equal(noteStrings(res.Notes), want) {
		t.Errorf("notes %q; want %q", noteStrings(res.Notes), want)
	}
	if got := readFile(t, path); got != "" {
		t.Errorf("the users file was written:\n%s", got)
	}
}

func TestImportSheetFails(t *testing.T) {
	path, ro := importFile(t, "[users]\n", "name\ns01\n")
	sheetErr := errors.New("disk full")
	if _, err := Import(path, ro, ImportOptions{KDF: cheapKDF, Sheet: func([]Account) error { return sheetErr }}); !errors.Is(err, sheetErr) {
		t.Fatalf("Import = %v; want the sheet's error", err)
	}
	if got := readFile(t, path); got != "[users]\n" {
		t.Errorf("users file changed although the sheet failed:\n%s", got)
	}
}

func TestImportRefusesBadUsersFile(t *testing.T) {
	path, ro := importFile(t, "[users.alice]\npasword = 1\n", "name\ns01\n")
	if _, err := Import(path, ro, ImportOptions{KDF: cheapKDF}); err == nil || !strings.Contains(err.Error(), `unknown key "pasword"`) {
		t.Fatalf("Import into a bad file = %v; want its parse error", err)
	}
}

func TestWriteSheet(t *testing.T) {
	accounts := []Account{
		{Name: "s01", Email: "s01@example.edu", Password: "aaaa-bbbb-cccc-dddd"},
		{Name: "s02", Password: "eeee-ffff-gggg-hhhh"},
	}
	var b bytes.Buffer
	if err := WriteSheet(&b, accounts, false); err != nil {
		t.Fatal(err)
	}
	want := "NAME   EMAIL             ONE-TIME PASSWORD\n" +
		"s01    s01@example.edu   aaaa-bbbb-cccc-dddd\n" +
		"s02    -                 eeee-ffff-gggg-hhhh\n"
	if b.String() != want {
		t.Errorf("sheet:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteSheet(&b, accounts, true); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"name", "email", "password"}, {"s01", "s01@example.edu", "aaaa-bbbb-cccc-dddd"}, {"s02", "", "eeee-ffff-gggg-hhhh"}}; !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("CSV sheet %q; want %q", rows, want)
	}
}

func TestAddUsersChecksFirst(t *testing.T) {
	path := writeFile(t, "")
	v := newVerifier(t, "pw")
	for _, tt := range []struct {
		name string
		list []NewUser
		want string
	}{
		{"bad name", []NewUser{{Name: "ok", Verifier: v}, {Name: "Not OK", Verifier: v}}, `user name "Not OK"`},
		{"twice", []NewUser{{Name: "ok", Verifier: v}, {Name: "ok", Verifier: v}}, `"ok" is twice`},
		{"bad email", []NewUser{{Name: "ok", Verifier: v, Email: "a\nb@c"}}, `contains a line break`},
		{"bad quota", []NewUser{{Name: "ok", Verifier: v, Quota: "lots"}}, `bad size "lots"`},
		{"no verifier", []NewUser{{Name: "ok"}}, `bad password verifier`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AddUsers(path, tt.list, func([]NewUser) error {
				t.Error("commit called for a bad list")
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("AddUsers = %v; want an error with %q", err, tt.want)
			}
			if got := readFile(t, path); got != "" {
				t.Errorf("file written:\n%s", got)
			}
		})
	}
}

// TestImportKDF checks that imported verifiers use the default cost when
// none is given, like cubbyd user add.
func TestImportKDF(t *testing.T) {
	if testing.Short() {
		t.Skip("derives a verifier at the default cost")
	}
	path, ro := importFile(t, "", "name\ns01\n")
	res, err := Import(path, ro, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Users["s01"].Verifier.KDF; got != auth.DefaultKDFParams() {
		t.Errorf("verifier cost %+v; want auth.DefaultKDFParams() %+v", got, auth.DefaultKDFParams())
	}
	if !passwordMatches(c.Users["s01"].Verifier, res.Added[0].Password) {
		t.Error("the sheet's password does not match the verifier")
	}
}

// FuzzReadRoster checks that any file gives either one error or rows
// that are valid, each report on one line at a line of the file.
func FuzzReadRoster(f *testing.F) {
	for _, in := range []string{"name,email,quota\ns01,a@b,1GiB\n", "name\n\"a\nb\"\n,,\n", "\uFEFFNAME;x\n", "name,email\nx,\"y\n"} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nlines := bytes.Count(data, []byte("\n")) + 1
		ro, err := ReadRoster("r.csv", bytes.NewReader(data))
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		for _, b := range ro.Bad {
			if b.Line < 2 || b.Line > nlines || strings.ContainsAny(b.Error(), "\r\n") {
				t.Fatalf("bad row report %q: line %d of %d, or not one line", b, b.Line, nlines)
			}
		}
		seen := map[string]bool{}
		for _, e := range ro.Entries {
			if ValidName(e.Name) != nil || seen[e.Name] || e.Email != "" && emailProblem(e.Email) != "" || e.Line < 2 || e.Line > nlines {
				t.Fatalf("bad entry %+v", e)
			}
			if e.Quota != "" {
				if _, err := ParseSize(e.Quota); err != nil {
					t.Fatalf("entry %+v: %v", e, err)
				}
			}
			seen[e.Name] = true
		}
	})
}
