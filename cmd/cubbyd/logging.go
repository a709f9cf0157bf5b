package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// logFlags choose where the server's log (its audit trail) goes and how it
// looks.
type logFlags struct {
	format, level, file string
}

// newLogger builds the logger the flags ask for. With a log file it also
// returns the file, to reopen on SIGHUP after logrotate moved it.
func (lf *logFlags) newLogger(stderr io.Writer) (*slog.Logger, *logFile, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(lf.level)); err != nil {
		return nil, nil, &usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", lf.level)}
	}
	var w io.Writer = stderr
	var f *logFile
	if lf.file != "" {
		f = &logFile{path: lf.file}
		if err := f.Reopen(); err != nil {
			return nil, nil, err
		}
		w = f
	}
	opts := &slog.HandlerOptions{Level: level}
	switch lf.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), f, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), f, nil
	}
	return nil, nil, &usageError{fmt.Sprintf("--log-format %q: want text or json", lf.format)}
}

// logFile is an append-only log file that can be reopened under its name.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Reopen opens the file at its path again, creating it with mode 0600.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening --log-file: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Close closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
