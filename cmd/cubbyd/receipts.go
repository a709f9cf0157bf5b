package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cubby-dev/cubby/auth/hostkey"
	"github.com/cubby-dev/cubby/session"
	"github.com/cubby-dev/cubby/session/client/progress"
	"github.com/cubby-dev/cubby/session/receipt"
)

// receipts lists the receipts of a drop box, checking each signature.
func receipts(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("receipts", stderr)
	var common commonFlags
	common.register(fs)
	user := fs.String("user", "", "only this user's receipts")
	pos, err := parseFlags(fs, args, 1)
	if err != nil {
		return err
	}
	box := pos[0]
	key, err := hostkey.Load(common.dataDir())
	if err != nil {
		return err
	}
	list, err := session.ReadReceipts(common.dataDir(), box, *user, key.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(stderr, "no receipts for drop box %s in %s\n", box, common.dataDir())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tUSER\tPATH\tSIZE\tSHA256\tLATE")
	bad := 0
	for _, l := range list {
		if l.Err != nil {
			bad++
			fmt.Fprintf(stderr, "%s:%d: INVALID receipt: %s\n", l.File, l.Line, strings.TrimPrefix(l.Err.Error(), "receipt: "))
			continue
		}
		r := l.Receipt
		late := "no"
		if r.Late {
			late = "yes (extension)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.DateTime), receipt.Printable(r.User), receipt.Printable(r.Path),
			progress.Thousands(r.Size), hex.EncodeToString(r.SHA256[:8]), late)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d receipts in the log do not verify (see above)", bad, len(list))
	}
	return nil
}
