package shell

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultHistoryLines bounds the history kept across runs.
const DefaultHistoryLines = 1000

// History is the list of command lines typed at the prompt, kept in a
// file across runs. It implements golang.org/x/term's History, so the up
// and down arrows walk it. Lines that may hold a secret are never
// recorded (see Recordable). The file has mode 0600 and is bounded: it
// is rewritten with the newest Max lines once it holds twice as many.
type History struct {
	path string
	max  int

	mu        sync.Mutex
	lines     []string // oldest first
	fileLines int
	warned    bool
	// Warn, if set, is told once when the file cannot be written.
	Warn func(error)
}

// DefaultHistoryPath is <user config dir>/cubby/history.
func DefaultHistoryPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "cubby", "history"), nil
}

// OpenHistory loads the history in path, keeping the newest max lines;
// an empty path keeps the history in memory only. A missing file is an
// empty history. The file's mode is set to 0600.
func OpenHistory(path string, max int) (*History, error) {
	if max <= 0 {
		max = DefaultHistoryLines
	}
	h := &History{path: path, max: max}
	if path == "" {
		return h, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return h, fmt.Errorf("history: %w", err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		h.fileLines++
		if line := sc.Text(); Recordable(line) {
			h.lines = append(h.lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return h, fmt.Errorf("history: reading %s: %w", path, err)
	}
	if len(h.lines) > max {
		h.lines = h.lines[len(h.lines)-max:]
	}
	if h.fileLines > max {
		if err := h.rewrite(); err != nil {
			return h, err
		}
	}
	return h, nil
}

// Recordable reports whether a typed line may go into the history: not
// blank, not starting with a space (as bash's ignorespace), not a
// passwd command (a future command that could take a password on its
// line) and one line of text.
func Recordable(line string) bool {
	if strings.TrimSpace(line) == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return false
	}
	if strings.ContainsAny(line, "\r\n\x00") {
		return false
	}
	first, _, _ := strings.Cut(strings.TrimLeft(line, "-"), " ")
	return first != "passwd"
}

// Add records line as the newest entry, unless it is not Recordable or
// repeats the newest entry.
func (h *History) Add(line string) {
	if !Recordable(line) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if n := len(h.lines); n > 0 && h.lines[n-1] == line {
		return
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > h.max {
		h.lines = append(h.lines[:0:0], h.lines[len(h.lines)-h.max:]...)
	}
	if h.path == "" {
		return
	}
	err := h.appendLine(line)
	if err == nil && h.fileLines > 2*h.max {
		err = h.rewrite()
	}
	if err != nil && !h.warned && h.Warn != nil {
		h.warned = true
		h.Warn(err)
	}
}

// Len is the number of entries.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.lines)
}

// At returns an entry; 0 is the newest. It panics out of range, as
// term.History requires.
func (h *History) At(i int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lines[len(h.lines)-1-i]
}

// Lines returns the entries, oldest first.
func (h *History) Lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

func (h *History) appendLine(line string) error {
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	h.fileLines++
	return nil
}

// rewrite replaces the file with the entries in memory, atomically.
func (h *History) rewrite() error {
	dir := filepath.Dir(h.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.CreateTemp(dir, ".history-*") // mode 0600
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	var b strings.Builder
	for _, l := range h.lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), h.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("history: %w", err)
	}
	h.fileLines = len(h.lines)
	return nil
}
