package main

import (
	"context"
	"io"

	"github.com/cubby-dev/cubby/auth/users"
	"github.com/cubby-dev/cubby/session"
)

// collect copies every user's submissions to a drop box into one folder
// tree, DIR/<user>/..., and reports who submitted what and when.
func collect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("collect", stderr)
	var common commonFlags
	common.register(fs)
	pos, err := parseFlags(fs, args, 2)
	if err != nil {
		return err
	}
	cfg, err := users.Load(common.config)
	if err != nil {
		return err
	}
	return session.Collect(ctx, cfg, common.dataDir(), pos[0], pos[1], stdout)
}
