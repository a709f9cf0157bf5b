// Command cubby is the cubby client.
//
//	cubby [options] [USER@]HOST[:PORT] [COMMAND [ARGS...]]
//	cubby verify-receipt [--file LOCAL] RECEIPT...
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	// Ctrl-C cancels the running command or transfer, not the session.
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, interrupt))
}
