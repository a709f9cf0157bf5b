// Command cubbyd is the cubby server and its admin tool.
//
//	cubbyd serve [--config users.toml] [--data DIR] [--listen ADDR] [limits and log flags]
//	cubbyd fingerprint [--data DIR]
//	cubbyd user add|passwd|del NAME [--config F] [--password-stdin]
//	cubbyd user list [--config F]
//	cubbyd user import [--config F] [--sheet FILE] [--all-or-nothing] roster.csv
//	cubbyd receipts BOX [--config F] [--data DIR] [--user NAME]
//	cubbyd collect BOX DIR [--config F] [--data DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/cubby-dev/cubby/sandbox"
)

func main() {
	// The same binary is the jail's init: this returns at once unless
	// cubbyd was re-executed as one.
	sandbox.MaybeInit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cubbyd:", err)
		}
		os.Exit(exitCode(err))
	}
}

const usage = `usage:
  cubbyd serve [--config users.toml] [--data DIR] [--listen ADDR] [--tls-cert F --tls-key F]
               [--log-format text|json] [--log-level debug|info|warn|error] [--log-file F]
               [--reload-interval 1s] [--max-startups 256:30:1024] [--max-sessions N]
               [--max-sessions-per-user N] [--max-request-rate N] [--login-grace 10s]
               [--idle-timeout 30m] [--login-free-failures 5] [--login-penalty-max 15m]
               [--login-addr-failures 1000]
  cubbyd fingerprint [--data DIR] [--config users.toml]
  cubbyd user add NAME [--config users.toml] [--password-stdin]
  cubbyd user passwd NAME [--config users.toml] [--password-stdin]
  cubbyd user del NAME [--config users.toml]
  cubbyd user list [--config users.toml]
  cubbyd user import [--config users.toml] [--sheet FILE] [--all-or-nothing] roster.csv
      (roster.csv: a header row with name, and optionally email and quota)
  cubbyd receipts BOX [--config users.toml] [--data DIR] [--user NAME]
  cubbyd collect BOX DIR [--config users.toml] [--data DIR]
      (copies every user's submissions to the drop box BOX into DIR/<user>/)`

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + "\n" + usage }

func exitCode(err error) int {
	var ue *usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{"missing command"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "fingerprint":
		return fingerprint(args[1:], stdout, stderr)
	case "user":
		return user(args[1:], stdin, stdout, stderr)
	case "receipts":
		return receipts(args[1:], stdout, stderr)
	case "collect":
		return collect(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return &usageError{fmt.Sprintf("unknown command %q", args[0])}
}
