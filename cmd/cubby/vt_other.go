//go:build !windows

package main

import "os"

// enableVT is needed on Windows only: other terminals draw escape codes.
func enableVT(*os.File) (restore func()) { return func() {} }
