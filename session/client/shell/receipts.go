package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/receipt"
)

// DefaultReceiptDir is <user config dir>/cubby/receipts, beside the
// history and known_hosts files.
func DefaultReceiptDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "cubby", "receipts"), nil
}

// maxFileNamePart bounds each sanitized part of a receipt's file name.
const maxFileNamePart = 100

// SaveReceipt stores a receipt in dir as
// <host>/<box>/<UTC time>-<file name>.receipt, mode 0600, never replacing
// a file, and returns its path. Every part of the name is made safe for
// any file system first: it comes from the server.
func SaveReceipt(dir, host string, r *receipt.Receipt) (string, error) {
	sub := filepath.Join(dir, safeFileName(host), safeFileName(r.Box))
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return "", err
	}
	stem := r.Time.UTC().Format("20060102T150405Z") + "-" + safeFileName(path.Base(r.Path))
	text := r.Text()
	for _, name := range []string{stem + ".receipt", fmt.Sprintf("%s-%x.receipt", stem, r.ID[:4]), fmt.Sprintf("%s-%x.receipt", stem, r.ID)} {
		p := filepath.Join(sub, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(text)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", err
		}
		return p, nil
	}
	return "", fmt.Errorf("%s: a receipt of that name exists already", filepath.Join(sub, stem))
}

// safeFileName keeps letters, digits and ._-+ of s, replaces anything
// else with _, and never starts with a dot or passes maxFileNamePart
// bytes: no separator, drive letter, reserved character or hidden name.
func safeFileName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len()+utf8.RuneLen(c) > maxFileNamePart {
			break
		}
		if unicode.IsLetter(c) || unicode.IsDigit(c) || strings.ContainsRune("._-+", c) {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if strings.HasPrefix(name, ".") {
		name = "_" + name[1:]
	}
	if strings.HasSuffix(name, ".") { // Windows drops it
		name = name[:len(name)-1] + "_"
	}
	base, _, _ := strings.Cut(strings.ToUpper(name), ".")
	if name == "" || windowsDevice(base) {
		return "_" + name
	}
	return name
}

// windowsDevice reports a name Windows keeps for a device, whatever the
// extension: CON, NUL, COM1, ...
func windowsDevice(base string) bool {
	switch base {
	case "CON", "PRN", "AUX", "NUL":
		return true
	}
	return len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && base[3] >= '1' && base[3] <= '9'
}

// keepReceipt saves the receipt of an upload into a drop box and says
// where. A receipt that cannot be saved is written to Stdout, so the user
// can still keep it.
func (s *Shell) keepReceipt(res *client.Result) {
	r := res.Receipt
	if r == nil {
		return
	}
	dir := s.ReceiptDir
	err := errors.New("no folder to save receipts in")
	if dir != "" {
		var p string
		if p, err = SaveReceipt(dir, s.Host, r); err == nil {
			fmt.Fprintf(s.Stdout, "receipt saved: %s\n", p)
			return
		}
	}
	fmt.Fprintf(s.Stderr, "cubby: the receipt for %s was not saved: %s; here it is, keep it:\n", r.Path, UserMessage(err))
	s.Stdout.Write(r.Text())
}
