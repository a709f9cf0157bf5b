package users

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/cubby-dev/cubby/auth"
)

// Limits of a roster file, so that a hostile or mistaken file (a log, a
// database dump) cannot exhaust memory or make Import derive verifiers for
// hours.
const (
	MaxRosterBytes = 4 << 20
	MaxRosterRows  = 10_000
)

// rosterColumns are the columns a roster may have, in the order the
// messages list them.
var rosterColumns = []string{"name", "email", "quota"}

// A RosterEntry is a good row of a roster.
type RosterEntry struct {
	Line  int    // the line of the file on which the row starts
	Name  string // a valid user name
	Email string // "" if none
	Quota string // a valid size, as written; "" if none
}

// Roster is a read roster: a class list of accounts to create.
type Roster struct {
	// Path is the file name, as given to ReadRoster, for messages.
	Path string
	// Entries are the good rows, in file order.
	Entries []RosterEntry
	// Bad are the rows that cannot be imported, in file order, each
	// "PATH:LINE: what is wrong".
	Bad []*ParseError
}

// LoadRoster reads the roster file at path; see ReadRoster.
func LoadRoster(path string) (*Roster, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users: roster: %w", err)
	}
	defer f.Close()
	return ReadRoster(path, f)
}

// ReadRoster reads a roster in CSV format (RFC 4180, as spreadsheets save
// it, with or without a UTF-8 byte order mark) from r. Path is used in
// messages only. The first row is a header naming the columns, in any
// order and letter case: name (required), email and quota (optional). A
// row whose fields are all empty is ignored.
//
// A row with a bad name, email or quota, a name already used by an
// earlier row, or the wrong number of fields goes to Roster.Bad and the
// other rows are still read. A problem that leaves the file's meaning in
// doubt is an error and nothing is read: a missing or unknown column, a
// CSV syntax error (such as an unclosed quote, which swallows the rows
// after it), or a file larger than MaxRosterBytes or with more than
// MaxRosterRows rows.
func ReadRoster(path string, r io.Reader) (*Roster, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxRosterBytes+1))
	if err != nil {
		return nil, fmt.Errorf("users: reading roster %s: %w", path, err)
	}
	if len(data) > MaxRosterBytes {
		return nil, fmt.Errorf("users: roster %s is larger than %d MiB; split it into several files", path, MaxRosterBytes>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	fail := func(line int, format string, args ...any) *ParseError {
		return &ParseError{Path: path, Line: line, Msg: oneLine(fmt.Sprintf(format, args...))}
	}
	cr := csv.NewReader(bytes.NewReader(data))
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fail(1, "the file is empty; the first row must be a header such as name,email,quota")
	}
	if err != nil {
		return nil, csvError(path, err)
	}
	col, err := rosterHeader(header)
	if err != nil {
		return nil, fail(1, "%v", err)
	}
	ro := &Roster{Path: path}
	lineOf := map[string]int{}
	for rows := 0; ; rows++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, csv.ErrFieldCount) {
			return nil, csvError(path, err)
		}
		line, _ := cr.FieldPos(0)
		if rows == MaxRosterRows {
			return nil, fail(line, "more than %d rows; split the roster into several files", MaxRosterRows)
		}
		if err != nil {
			fields := "fields"
			if len(rec) == 1 {
				fields = "field"
			}
			ro.Bad = append(ro.Bad, fail(line, "%d %s, but the header has %d", len(rec), fields, len(header)))
			continue
		}
		field := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if !slices.ContainsFunc(rec, func(f string) bool { return strings.TrimSpace(f) != "" }) {
			continue // spreadsheets save empty rows as ",,"
		}
		e := RosterEntry{Line: line, Name: field("name"), Email: field("email"), Quota: field("quota")}
		if msg := rowProblem(e, lineOf); msg != "" {
			ro.Bad = append(ro.Bad, fail(line, "%s", msg))
		} else {
			ro.Entries = append(ro.Entries, e)
		}
		if nameProblem(e.Name) == "" && lineOf[e.Name] == 0 {
			// A name is taken by its first row even if that row is bad:
			// the file has it twice either way.
			lineOf[e.Name] = line
		}
	}
	return ro, nil
}

// rowProblem returns what is wrong with the row e, or "". lineOf holds
// the line of each name's first row.
func rowProblem(e RosterEntry, lineOf map[string]int) string {
	if e.Name == "" {
		return "no name"
	}
	if first := lineOf[e.Name]; first != 0 {
		return fmt.Sprintf("%s is already on line %d", e.Name, first)
	}
	return accountProblem(e.Name, e.Email, e.Quota)
}

// rosterHeader maps the columns of a roster's header row to their index.
func rosterHeader(header []string) (map[string]int, error) {
	want := "the first row must be a header: name, and optionally email and quota"
	if len(header) == 1 && strings.Contains(header[0], ";") {
		return nil, fmt.Errorf("the header %q is one column: the file seems to be separated by semicolons; save it as CSV with commas", header[0])
	}
	col := map[string]int{}
	var unknown []string
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(rosterColumns, name) {
			unknown = append(unknown, fmt.Sprintf("%q", h))
			continue
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("the header has the column %s twice", name)
		}
		col[name] = i
	}
	switch {
	case len(unknown) == 1:
		return nil, fmt.Errorf("unknown column %s (%s)", unknown[0], want)
	case len(unknown) > 1:
		return nil, fmt.Errorf("unknown columns %s (%s)", strings.Join(unknown, ", "), want)
	}
	if _, ok := col["name"]; !ok {
		return nil, fmt.Errorf("no name column (%s)", want)
	}
	return col, nil
}

// csvError converts an error of the csv package.
func csvError(path string, err error) error {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		// The row where the error starts, since an unclosed quote is
		// only noticed at the end of the file.
		return &ParseError{Path: path, Line: pe.StartLine, Msg: fmt.Sprintf("CSV syntax error: %v (line %d, column %d)", pe.Err, pe.Line, pe.Column)}
	}
	return fmt.Errorf("users: reading roster %s: %w", path, err)
}

// otpAlphabet holds the characters of one-time passwords: lowercase
// letters and digits without those easily taken for another (0 o, 1 l i),
// so that a password can be read from paper and typed.
const otpAlphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// NewOneTimePassword returns a random password for a new account, four
// groups of four characters joined by "-", such as "k7mq-3xfa-wp9d-hr2n":
// about 79 bits of entropy from crypto/rand.
func NewOneTimePassword() string {
	const groups, size = 4, 4
	// Bytes at or above the largest multiple of the alphabet's length are
	// rejected, so that every character is equally likely.
	limit := byte(256 - 256%len(otpAlphabet))
	out := make([]byte, 0, groups*(size+1)-1)
	var buf [64]byte
	for n := 0; n < groups*size; {
		rand.Read(buf[:]) // never fails; see its documentation
		for _, b := range buf {
			if b >= limit || n == groups*size {
				continue
			}
			if n > 0 && n%size == 0 {
				out = append(out, '-')
			}
			out = append(out, otpAlphabet[int(b)%len(otpAlphabet)])
			n++
		}
	}
	return string(out)
}

// An Account is a user that Import created, with their one-time password.
type Account struct {
	Line     int // of the roster
	Name     string
	Email    string
	Password string
}

// ImportOptions change what Import does.
type ImportOptions struct {
	// AllOrNothing imports nothing when the roster has a bad row.
	AllOrNothing bool
	// KDF is the argon2id cost of the new verifiers; the zero value means
	// auth.DefaultKDFParams, as for every other new password.
	KDF auth.KDFParams
	// Sheet, if not nil, is given the accounts about to be created, with
	// their one-time passwords, before the users file is replaced; an
	// error from it leaves the file unchanged. It is not called when
	// there is nothing to create.
	Sheet func([]Account) error
}

// ImportResult is what Import did.
type ImportResult struct {
	// Added are the accounts created, in roster order.
	Added []Account
	// Notes are the bad rows and the users skipped because they already
	// existed, in roster order.
	Notes []*ParseError
	// Bad and Existing count the bad rows and the skipped users.
	Bad, Existing int
}

// ErrBadRoster is returned by Import, wrapped, when the roster has bad rows
// and ImportOptions.AllOrNothing is set.
var ErrBadRoster = errors.New("users: the roster has bad rows")

// Import creates an account in the users file at path (created if it does
// not exist) for each good row of roster whose user the file does not have
// yet, with a new one-time password (see NewOneTimePassword) and
// must_change_password = true, plus the row's email and quota. It writes
// the file once, through AddUsers, so it is locked and replaced
// atomically, and either every new account is in it or none is.
//
// Users already in the file, disabled ones included, are skipped and
// noted. The verifiers are derived in parallel, which is most of the time
// taken: about 0.1 s of CPU each with the default cost.
//
// The result is returned with an error too, when it has notes to show.
func Import(path string, roster *Roster, opts ImportOptions) (*ImportResult, error) {
	res := &ImportResult{Bad: len(roster.Bad), Notes: slices.Clone(roster.Bad)}
	have := map[string]bool{}
	switch c, err := Load(path); {
	case err == nil:
		for name := range c.Users {
			have[name] = true
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var todo []RosterEntry
	for _, e := range roster.Entries {
		if have[e.Name] {
			res.existing(roster.Path, e)
			continue
		}
		todo = append(todo, e)
	}
	res.sortNotes()
	if opts.AllOrNothing && res.Bad > 0 {
		return res, fmt.Errorf("%w (%d in %s); nothing imported", ErrBadRoster, res.Bad, roster.Path)
	}
	if len(todo) == 0 {
		return res, nil
	}
	kdf := cmp.Or(opts.KDF, auth.DefaultKDFParams())
	accounts := make([]Account, len(todo))
	list := make([]NewUser, len(todo))
	for i, e := range todo {
		accounts[i] = Account{Line: e.Line, Name: e.Name, Email: e.Email, Password: NewOneTimePassword()}
		list[i] = NewUser{Name: e.Name, Email: e.Email, Quota: e.Quota, MustChangePassword: true}
	}
	if err := deriveVerifiers(list, accounts, kdf); err != nil {
		return nil, err
	}
	byName := make(map[string]int, len(todo))
	for i, e := range todo {
		byName[e.Name] = i
	}
	skipped, err := AddUsers(path, list, func(added []NewUser) error {
		res.Added = make([]Account, len(added))
		for i, u := range added {
			res.Added[i] = accounts[byName[u.Name]]
		}
		if opts.Sheet != nil {
			return opts.Sheet(res.Added)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Users added to the file by someone else since it was read above.
	for _, name := range skipped {
		res.existing(roster.Path, todo[byName[name]])
	}
	res.sortNotes()
	return res, nil
}

func (r *ImportResult) existing(path string, e RosterEntry) {
	r.Existing++
	r.Notes = append(r.Notes, &ParseError{Path: path, Line: e.Line, Msg: e.Name + " already exists; skipped"})
}

func (r *ImportResult) sortNotes() {
	slices.SortStableFunc(r.Notes, func(a, b *ParseError) int { return a.Line - b.Line })
}

// deriveVerifiers sets the verifier of each list[i] from the password of
// accounts[i]. The derivations run in parallel, as many at a time as
// there are CPUs to run them and, since each takes kdf.MemoryKiB, at most
// 1 GiB of memory together.
func deriveVerifiers(list []NewUser, accounts []Account, kdf auth.KDFParams) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, (1<<20)/int(max(kdf.MemoryKiB, 1))), len(list))
	next := make(chan int)
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				list[i].Verifier, errs[i] = auth.NewVerifier([]byte(accounts[i].Password), kdf)
			}
		})
	}
	for i := range list {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// WriteSheet writes the names, emails and one-time passwords of accounts
// to w: as CSV (name,email,password, with a header) if asCSV is set, for
// a mail merge, and otherwise as a table to print and cut into slips.
func WriteSheet(w io.Writer, accounts []Account, asCSV bool) error {
	if asCSV {
		cw := csv.NewWriter(w)
		cw.Write([]string{"name", "email", "password"})
		for _, a := range accounts {
			cw.Write([]string{a.Name, a.Email, a.Password})
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEMAIL\tONE-TIME PASSWORD")
	for _, a := range accounts {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", a.Name, cmp.Or(a.Email, "-"), a.Password)
	}
	return tw.Flush()
}
