package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cubby-dev/cubby/auth/knownhosts"
	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/client/shell"
)

const verifyUsage = `usage: cubby verify-receipt [--known-hosts FILE] [--fingerprint SHA256:...] [--file LOCAL] RECEIPT...

Checks drop-box receipts offline: each must be unchanged since the server
signed it, with a key pinned in your known_hosts (or the --fingerprint your
teacher published). --file also checks that LOCAL is the file submitted.
Exit status: 0 when every receipt is valid, 1 otherwise.

options:`

// verifyReceipts runs "cubby verify-receipt" and returns its exit status.
func verifyReceipts(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cubby verify-receipt", verifyUsage, stderr)
	khPath := fs.String("known-hosts", "", knownHostsHelp)
	fp := fs.String("fingerprint", "", "trust the server key with this fingerprint instead of known_hosts")
	local := fs.String("file", "", "also check that the local `FILE` is the one submitted")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 || (*local != "" && fs.NArg() > 1) {
		fmt.Fprintln(stderr, "cubby verify-receipt: give one or more receipt files (only one with --file)")
		return 2
	}
	if *khPath == "" {
		var err error
		if *khPath, err = knownhosts.DefaultPath(); err != nil {
			fmt.Fprintln(stderr, "cubby:", err)
			return 1
		}
	}
	kh := &knownhosts.Store{Path: *khPath}
	status := 0
	for _, name := range fs.Args() {
		prefix := ""
		if fs.NArg() > 1 {
			prefix = name + ": "
		}
		text, err := client.ReadReceiptFile(name)
		if err != nil {
			fmt.Fprintf(stdout, "%sINVALID: %s\n", prefix, shell.UserMessage(err))
			status = 1
			continue
		}
		r, hosts, err := client.VerifyReceipt(text, kh, *fp)
		if err != nil {
			fmt.Fprintf(stdout, "%sINVALID: %s\n", prefix, receiptMessage(err))
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "%sOK: %s\n", prefix, client.DescribeReceipt(r, hosts))
		if *local != "" {
			if err := client.CheckReceiptFile(r, *local); err != nil {
				fmt.Fprintf(stdout, "DIFFERENT: %s\n", shell.UserMessage(err))
				status = 1
				continue
			}
			fmt.Fprintf(stdout, "OK: %s is the file submitted (same size and SHA-256)\n", *local)
		}
	}
	return status
}

// receiptMessage is a verification failure without package prefixes.
func receiptMessage(err error) string {
	msg := shell.UserMessage(err)
	if rest, ok := strings.CutPrefix(msg, "receipt: "); ok && rest != "" {
		return rest
	}
	return msg
}
