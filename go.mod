module github.com/cubby-dev/cubby

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)
