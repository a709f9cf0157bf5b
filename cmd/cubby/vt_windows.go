package main

import (
	"os"

	"golang.org/x/sys/windows"
)

// enableVT lets a Windows console draw the escape codes of the line
// editor and progress bars; restore puts its mode back.
func enableVT(f *os.File) (restore func()) {
	h := windows.Handle(f.Fd())
	var mode uint32
	if windows.GetConsoleMode(h, &mode) != nil {
		return func() {}
	}
	if windows.SetConsoleMode(h, mode|windows.ENABLE_VIRTUAL_TERMINAL_PROCESSING|windows.ENABLE_PROCESSED_OUTPUT) != nil {
		return func() {}
	}
	return func() { windows.SetConsoleMode(h, mode) }
}
