package shell

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cubby-dev/cubby/session/client"
	"github.com/cubby-dev/cubby/session/client/progress"
	"github.com/cubby-dev/cubby/wire"
)

// command is one client command, for dispatch and help.
type command struct {
	names []string // the first is the name help shows
	usage string
	what  string
}

// commands are the client's own commands; every other line runs on the
// server.
var commands = []command{
	{[]string{"upload", "put"}, "[-r] [-q] [--resume] LOCAL... [REMOTE]", "store local files (globs like *.pdf work; -r: folders) in your home; several go into the REMOTE folder"},
	{[]string{"download", "get"}, "[-r] [-q] [--resume] REMOTE... [LOCAL]", "fetch files (remote globs work; -r: folders); several go into the LOCAL folder"},
	{[]string{"lcd"}, "[DIR]", "change the local folder (default: your local home)"},
	{[]string{"lpwd"}, "", "print the local folder"},
	{[]string{"lls"}, "[-a] [-l] [PATH...]", "list local files (-a: hidden ones too; -l: sizes and times)"},
	{[]string{"passwd"}, "", "change your password: asks for the current one, then the new one twice"},
	{[]string{"help", "?"}, "[COMMAND]", "list the commands, or describe one"},
	{[]string{"quit", "exit", "bye"}, "", "end the session (Ctrl-D does too)"},
}

// serverBuiltins are commands the server answers itself, for help.
var serverBuiltins = []command{
	{[]string{"cd"}, "[DIR]", "change the remote folder (runs on the server; the prompt shows it)"},
	{[]string{"pwd"}, "", "print the remote folder (runs on the server)"},
	{[]string{"rm"}, "[-r] [-f] [-d] PATH...", "delete remote files (-r: folders); they go to ~/.trash for undelete; /usr/bin/rm deletes for real"},
	{[]string{"trash"}, "list|empty", "show what is in ~/.trash, or delete it for good (it counts against your quota)"},
	{[]string{"undelete"}, "PATH [NEWPATH]", "bring the newest deleted PATH back from ~/.trash (or to NEWPATH)"},
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands {
		if slices.Contains(c.names, name) {
			return c, true
		}
	}
	return command{}, false
}

// helpLine is one command's line of help.
func helpLine(c command) string {
	left := strings.Join(c.names, "|")
	if c.usage != "" {
		left += " " + c.usage
	}
	return fmt.Sprintf("  %-46s %s", left, c.what)
}

// helpText is the whole of the client's help.
func helpText() string {
	var b strings.Builder
	b.WriteString("client commands:\n")
	for _, c := range commands {
		b.WriteString(helpLine(c) + "\n")
	}
	b.WriteString("server built-ins:\n")
	for _, c := range serverBuiltins {
		b.WriteString(helpLine(c) + "\n")
	}
	b.WriteString("anything else runs on the server, in your home: ls, mkdir, mv, cp, cat, ...\n")
	b.WriteString("keys: Tab completes, Up/Down recall history, Ctrl-C cancels, Ctrl-D quits")
	return b.String()
}

func (s *Shell) help(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(s.Stdout, helpText())
		if s.Client != nil {
			fmt.Fprintln(s.Stdout, "programs the server lets you run:")
			s.remote(ctx, "help", nil)
		}
		return nil
	}
	for _, name := range args {
		c, ok := lookupCommand(name)
		if !ok {
			i := slices.IndexFunc(serverBuiltins, func(c command) bool { return c.names[0] == name })
			if i < 0 {
				return fmt.Errorf("help: %s is not a client command; it would run on the server (see help)", name)
			}
			c = serverBuiltins[i]
		}
		fmt.Fprintln(s.Stdout, strings.TrimLeft(helpLine(c), " "))
	}
	return nil
}

// lineArgs splits the rest of a typed line for command name; local
// paths get the Windows-aware reading.
func (s *Shell) lineArgs(name, rest string) ([]string, error) {
	switch name {
	case "upload", "put":
		var flags []string
		for {
			rest = strings.TrimLeft(rest, " \t")
			word, after, _ := strings.Cut(rest, " ")
			if !strings.HasPrefix(word, "-") {
				break
			}
			flags = append(flags, word)
			rest = after
		}
		args, err := localArgs(rest, s.Windows, os.Stat)
		return append(flags, args...), err
	case "lcd":
		// The whole unquoted rest naming a folder is one path, spaces and all.
		if t := strings.TrimSpace(rest); t != "" && !strings.ContainsAny(t, `"'`) {
			if fi, err := os.Stat(t); err == nil && fi.IsDir() {
				return []string{t}, nil
			}
		}
	}
	return splitArgs(rest, s.Windows)
}

func (s *Shell) run(ctx context.Context, name string, args []string) error {
	switch name {
	case "upload", "put":
		return s.upload(ctx, args)
	case "download", "get":
		return s.download(ctx, args)
	case "lcd":
		return s.lcd(args)
	case "lpwd":
		if len(args) > 0 {
			return errors.New("usage: lpwd")
		}
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("lpwd: %w", err)
		}
		fmt.Fprintln(s.Stdout, wd)
		return nil
	case "lls":
		return s.lls(args)
	case "passwd":
		return s.passwd(ctx, args)
	case "help", "?":
		return s.help(ctx, args)
	case "quit", "exit", "bye":
		return errQuit
	}
	return fmt.Errorf("%s: unknown client command; try help", name)
}

func (s *Shell) lcd(args []string) error {
	var dir string
	switch len(args) {
	case 0:
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("lcd: %w", err)
		}
		dir = home
	case 1:
		dir = args[0]
	default:
		return errors.New("usage: lcd [DIR]")
	}
	if err := os.Chdir(dir); err != nil {
		return fmt.Errorf("lcd: %w", unwrapPath(err))
	}
	return nil
}

// unwrapPath keeps "chdir x: no such file" readable: the PathError's text.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func (s *Shell) lls(args []string) error {
	var all, long bool
	var paths []string
	for _, a := range args {
		switch {
		case a == "--":
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, f := range a[1:] {
				switch f {
				case 'a':
					all = true
				case 'l':
					long = true
				default:
					return fmt.Errorf("lls: unknown option -%c", f)
				}
			}
		default:
			paths = append(paths, a)
		}
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var failed error
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			failed = fmt.Errorf("lls: %w", unwrapPath(err))
			fmt.Fprintf(s.Stderr, "cubby: %v\n", failed)
			continue
		}
		if !fi.IsDir() {
			s.llsEntry(p, fi, long)
			continue
		}
		if len(paths) > 1 {
			if i > 0 {
				fmt.Fprintln(s.Stdout)
			}
			fmt.Fprintf(s.Stdout, "%s:\n", p)
		}
		ents, err := os.ReadDir(p)
		if err != nil {
			failed = fmt.Errorf("lls: %w", unwrapPath(err))
			fmt.Fprintf(s.Stderr, "cubby: %v\n", failed)
			continue
		}
		for _, e := range ents {
			if !all && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			s.llsEntry(e.Name(), info, long)
		}
	}
	if failed != nil {
		return errReported{failed}
	}
	return nil
}

func (s *Shell) llsEntry(name string, fi fs.FileInfo, long bool) {
	if fi.IsDir() {
		name += string(filepath.Separator)
	}
	if !long {
		fmt.Fprintln(s.Stdout, name)
		return
	}
	fmt.Fprintf(s.Stdout, "%s %10d %s %s\n", fi.Mode(), fi.Size(), fi.ModTime().Format("2006-01-02 15:04"), name)
}

// errReported is a failure already told to the user: status reports no
// second line for it.
type errReported struct{ error }

// transferFlags are the options of upload and download.
type transferFlags struct {
	resume, recursive, quiet bool
}

// transferArgs separates the options from the paths.
func transferArgs(cmd string, args []string) (f transferFlags, paths []string, err error) {
	for i, a := range args {
		if a == "--" {
			paths = append(paths, args[i+1:]...)
			break
		}
		switch a {
		case "--resume", "-resume":
			f.resume = true
		case "-r", "-R", "--recursive":
			f.recursive = true
		case "-q", "--quiet":
			f.quiet = true
		default:
			if strings.HasPrefix(a, "-") && len(a) > 1 {
				return f, nil, fmt.Errorf("%s: unknown option %s", cmd, a)
			}
			paths = append(paths, a)
		}
	}
	if len(paths) < 1 {
		return f, nil, fmt.Errorf("usage: %s [-r] [-q] [--resume] SOURCE... [TARGET]", cmd)
	}
	return f, paths, nil
}

// splitTarget takes the last of several paths as the target.
func splitTarget(paths []string) (sources []string, target string) {
	if len(paths) == 1 {
		return paths, ""
	}
	return paths[:len(paths)-1], paths[len(paths)-1]
}

func (s *Shell) skipped(p, why string) {
	fmt.Fprintf(s.Stderr, "cubby: skipped %s: %s\n", p, why)
}

// hasGlob reports whether a word has glob characters.
func hasGlob(w string) bool { return strings.ContainsAny(w, "*?[") }

// expandLocal expands glob patterns among local paths with
// filepath.Glob; a word that names an existing file stays as it is.
func expandLocal(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		if !hasGlob(w) {
			out = append(out, w)
			continue
		}
		if _, err := os.Lstat(w); err == nil {
			out = append(out, w)
			continue
		}
		m, err := filepath.Glob(w)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no local file matches %s", w)
		}
		out = append(out, m...)
	}
	return out, nil
}

// expandRemote expands glob patterns in the last element of remote paths
// by listing their directory with l and matching with path.Match.
// Hidden names match only a pattern that starts with a dot.
func expandRemote(ctx context.Context, l Lister, words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		dir, pat := path.Split(w)
		if !hasGlob(pat) {
			out = append(out, w)
			continue
		}
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("%s: bad pattern", w)
		}
		ents, err := l.List(ctx, dir)
		if err != nil {
			return nil, err
		}
		var m []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name, ".") && !strings.HasPrefix(pat, ".") {
				continue
			}
			if ok, _ := path.Match(pat, e.Name); ok {
				m = append(m, dir+e.Name)
			}
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no remote file matches %s", w)
		}
		slices.Sort(m)
		out = append(out, m...)
	}
	return out, nil
}

// remoteIsDir reports whether the remote path names a directory.
func remoteIsDir(ctx context.Context, l Lister, p string) bool {
	if p == "" {
		return true
	}
	clean := path.Clean(p)
	base := path.Base(clean)
	if base == "." || base == ".." || base == "~" || base == "/" || strings.HasPrefix(clean, "/") && path.Dir(clean) == "/home" {
		_, err := l.List(ctx, p)
		return err == nil
	}
	ents, err := l.List(ctx, path.Dir(clean))
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.Name == base {
			return e.Mode&wire.ModeTypeMask == wire.ModeDir
		}
	}
	return false
}

// transferOptions returns the options of one transfer, with a progress
// bar for name when Progress is on and -q was not given.
func (s *Shell) transferOptions(name string, total int64, tree bool, f transferFlags) (client.TransferOptions, *progress.Bar) {
	opt := client.TransferOptions{Resume: f.resume}
	if !s.Progress || f.quiet {
		return opt, nil
	}
	var bar *progress.Bar
	if tree {
		bar = progress.NewTreeBar(s.Stdout, name, total, s.Width)
	} else {
		bar = progress.NewBar(s.Stdout, name, s.Width)
	}
	opt.Progress = bar.Update
	return opt, bar
}

// several runs each of n transfers: a failure is reported and the rest
// go on, but Ctrl-C stops them all.
func (s *Shell) several(ctx context.Context, n int, each func(i int) error) error {
	failed := 0
	var last error
	for i := range n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := each(i)
		if err == nil {
			continue
		}
		if errors.Is(err, client.ErrCanceled) || errors.Is(err, context.Canceled) || n == 1 {
			return err
		}
		fmt.Fprintf(s.Stderr, "cubby: %s\n", UserMessage(err))
		failed++
		last = err
	}
	if failed > 0 {
		return errReported{fmt.Errorf("%d of %d transfers failed; last: %w", failed, n, last)}
	}
	return nil
}

func (s *Shell) upload(ctx context.Context, args []string) error {
	flags, paths, err := transferArgs("upload", args)
	if err != nil {
		return err
	}
	sources, target := splitTarget(paths)
	if sources, err = expandLocal(sources); err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	intoDir := len(sources) > 1 || (flags.recursive && remoteIsDir(ctx, s.Client, target))
	if len(sources) > 1 && !remoteIsDir(ctx, s.Client, target) {
		return fmt.Errorf("upload: %s is not a remote folder, and %d files cannot all go there", target, len(sources))
	}
	return s.several(ctx, len(sources), func(i int) error {
		src := sources[i]
		fi, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("upload: %w", unwrapPath(err))
		}
		if fi.IsDir() && flags.recursive {
			remote := target
			if remote == "" || intoDir {
				remote = path.Join(target, filepath.Base(filepath.Clean(src)))
			}
			return s.uploadTree(ctx, src, remote, flags)
		}
		opt, bar := s.transferOptions(filepath.Base(src), -1, false, flags)
		start := time.Now()
		res, err := s.Client.Upload(ctx, src, target, opt)
		if bar != nil {
			bar.Clear()
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "uploaded %s to %s (%s%s, sha256 %s ok)\n", src, res.Remote,
			progress.Summary(res.Size, res.Size-res.ResumedFrom, time.Since(start)), resumed(res.ResumedFrom), hex.EncodeToString(res.Sum[:4]))
		s.keepReceipt(res)
		return nil
	})
}

func (s *Shell) uploadTree(ctx context.Context, local, remote string, flags transferFlags) error {
	var total int64
	if s.Progress && !flags.quiet {
		filepath.WalkDir(local, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
	}
	return s.tree(ctx, "uploaded", local, remote, filepath.Base(filepath.Clean(local))+"/", total, flags, s.Client.UploadTree)
}

// tree runs a recursive transfer with a progress bar and reports it as
// "<verb> from to: N files, M directories, summary".
func (s *Shell) tree(ctx context.Context, verb, from, to, label string, total int64, flags transferFlags,
	run func(context.Context, string, string, client.TransferOptions, func(string, string)) (*client.TreeResult, error)) error {
	opt, bar := s.transferOptions(label, total, true, flags)
	opt.Receipt = func(res *client.Result) {
		if bar != nil {
			bar.Clear()
		}
		s.keepReceipt(res)
	}
	start := time.Now()
	tr, err := run(ctx, from, to, opt, func(p, why string) {
		if bar != nil {
			bar.Clear()
		}
		s.skipped(p, why)
	})
	if bar != nil {
		bar.Clear()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "%s %s to %s: %d files, %d directories, %s, sha256 ok\n", verb, from, to, tr.Files, tr.Dirs, progress.Summary(tr.Bytes, tr.Bytes, time.Since(start)))
	return nil
}

func (s *Shell) download(ctx context.Context, args []string) error {
	flags, paths, err := transferArgs("download", args)
	if err != nil {
		return err
	}
	sources, target := splitTarget(paths)
	if sources, err = expandRemote(ctx, s.Client, sources); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	fi, statErr := os.Stat(target)
	targetIsDir := target == "" || (statErr == nil && fi.IsDir())
	if len(sources) > 1 && !targetIsDir {
		return fmt.Errorf("download: %s is not a local folder, and %d files cannot all go there", target, len(sources))
	}
	return s.several(ctx, len(sources), func(i int) error {
		src := sources[i]
		name := path.Base(strings.TrimRight(src, "/"))
		if flags.recursive && remoteIsDir(ctx, s.Client, src) {
			local := target
			if target == "" || targetIsDir {
				if !safeLocalName(name) {
					return fmt.Errorf("download: %s: name a local folder to download it into", src)
				}
				local = filepath.Join(target, name)
			}
			return s.downloadTree(ctx, src, local, flags)
		}
		opt, bar := s.transferOptions(name, -1, false, flags)
		start := time.Now()
		res, err := s.Client.Download(ctx, src, target, opt)
		if bar != nil {
			bar.Clear()
		}
		if err != nil {
			return err
		}
		local := res.Local
		if local == "" {
			local = target
		}
		fmt.Fprintf(s.Stdout, "downloaded %s to %s (%s%s, sha256 %s ok)\n", src, local,
			progress.Summary(res.Size, res.Size-res.ResumedFrom, time.Since(start)), resumed(res.ResumedFrom), hex.EncodeToString(res.Sum[:4]))
		return nil
	})
}

// safeLocalName reports whether a remote base name can name a local folder.
func safeLocalName(name string) bool {
	return name != "" && name != "." && name != ".." && name != "~" && name != "/" && filepath.Base(name) == name
}

func (s *Shell) downloadTree(ctx context.Context, remote, local string, flags transferFlags) error {
	return s.tree(ctx, "downloaded", remote, local, path.Base(strings.TrimRight(remote, "/"))+"/", -1, flags, s.Client.DownloadTree)
}

func resumed(from int64) string {
	if from == 0 {
		return ""
	}
	return ", resumed after " + progress.Bytes(from)
}
