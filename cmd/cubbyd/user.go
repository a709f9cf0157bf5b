package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/cubby-dev/cubby/auth"
	"github.com/cubby-dev/cubby/auth/users"
)

// minPasswordLen is the shortest password user add accepts.
const minPasswordLen = 8

func user(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"user: missing subcommand (add, passwd, del, list, import)"}
	}
	sub := args[0]
	if sub == "import" {
		return userImport(args[1:], stdout, stderr)
	}
	fs := newFlagSet("user "+sub, stderr)
	var common commonFlags
	common.register(fs)
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	switch sub {
	case "list":
		if _, err := parseFlags(fs, args[1:], 0); err != nil {
			return err
		}
		list, err := users.List(common.config)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSTATUS\tQUOTA\tCOMMANDS")
		for _, u := range list {
			status := "active"
			switch {
			case u.Disabled:
				status = "disabled"
			case u.Demo:
				status = "demo"
			}
			quota := "none"
			if u.Quota > 0 {
				quota = fmt.Sprintf("%d MiB", u.Quota>>20)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", u.Name, status, quota, u.Commands)
		}
		return tw.Flush()
	case "add", "passwd", "del":
	default:
		return &usageError{fmt.Sprintf("user: unknown subcommand %q", sub)}
	}
	pos, err := parseFlags(fs, args[1:], 1)
	if err != nil {
		return err
	}
	name := pos[0]
	if err := users.ValidName(name); err != nil {
		return err
	}
	if sub == "del" {
		if err := users.DeleteUser(common.config, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted user %s from %s (the home folder is kept)\n", name, common.config)
		return nil
	}
	pw, err := readNewPassword(name, *pwStdin, stdin, stderr)
	if err != nil {
		return err
	}
	v, err := auth.NewVerifier(pw, auth.DefaultKDFParams())
	clear(pw)
	if err != nil {
		return err
	}
	if sub == "add" {
		err = users.AddUser(common.config, name, v)
	} else {
		err = users.SetPassword(common.config, name, v)
	}
	if err != nil {
		return err
	}
	verb := map[string]string{"add": "added user", "passwd": "changed the password of"}[sub]
	fmt.Fprintf(stdout, "%s %s in %s\n", verb, name, common.config)
	return nil
}

// readNewPassword reads a new password from the first line of stdin, or
// prompts twice without echo on a terminal.
func readNewPassword(name string, fromStdin bool, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	var pw []byte
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading password from stdin: %w", err)
		}
		pw = bytes.TrimRight(line, "\r\n")
	} else {
		f, ok := stdin.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil, errors.New("standard input is not a terminal; use --password-stdin")
		}
		fmt.Fprintf(stderr, "New password for %s: ", name)
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "Retype new password: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p1, p2) {
			return nil, errors.New("passwords do not match; nothing changed")
		}
		pw = p1
	}
	if len(pw) < minPasswordLen {
		return nil, fmt.Errorf("password too short: at least %d characters", minPasswordLen)
	}
	return pw, nil
}

// userImport creates the accounts of a roster (cubbyd user import) and
// hands out their one-time passwords on a sheet.
func userImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user import", stderr)
	var common commonFlags
	common.register(fs)
	sheet := fs.String("sheet", "", "write the names and one-time passwords to `FILE`, created with mode 0600 (it must not exist; FILE.csv gets CSV for a mail merge), instead of standard output")
	allOrNothing := fs.Bool("all-or-nothing", false, "import nothing if any row of the roster is bad")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	// Checked now, so as not to derive every verifier first; the sheet is
	// created with O_EXCL all the same.
	if *sheet != "" {
		if _, err := os.Lstat(*sheet); err == nil {
			return fmt.Errorf("the sheet %s already exists; not overwriting it (it may hold passwords handed out before)", *sheet)
		}
	}
	roster, err := users.LoadRoster(pos[0])
	if err != nil {
		return err
	}
	created := false
	res, err := users.Import(common.config, roster, users.ImportOptions{
		AllOrNothing: *allOrNothing,
		Sheet: func(accounts []users.Account) error {
			if *sheet == "" {
				return users.WriteSheet(stdout, accounts, false)
			}
			created = true
			return writeSheet(*sheet, accounts)
		},
	})
	if err != nil && created {
		// The sheet was written but the accounts were not created.
		os.Remove(*sheet)
	}
	if res != nil {
		for _, n := range res.Notes {
			fmt.Fprintln(stderr, n)
		}
		fmt.Fprintf(stderr, "imported %s, skipped %d existing, %s\n", plural(len(res.Added), "user"), res.Existing, plural(res.Bad, "bad row"))
	}
	if err != nil {
		return err
	}
	if res.Bad > 0 {
		// The good rows are in, but a script should still notice.
		return fmt.Errorf("%s of %s not imported; correct the file and run the import again (it skips the users it already created)", plural(res.Bad, "bad row"), roster.Path)
	}
	return nil
}

// writeSheet creates the file path, which must not exist, with mode 0600
// and writes the sheet of accounts to it; a .csv file gets CSV.
func writeSheet(path string, accounts []users.Account) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sheet: %w; nothing imported", err)
	}
	err = users.WriteSheet(f, accounts, strings.EqualFold(filepath.Ext(path), ".csv"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the sheet %s: %w; nothing imported", path, err)
	}
	return nil
}

// plural returns "1 user" or "n users".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
