// Package users loads and edits users.toml, the account list of cubbyd.
//
// # File format
//
// The file has an optional [defaults] table and one [users.<name>] table per
// account:
//
//	[defaults]
//	commands = ["ls", "mkdir", "mv", "rm", "cp", "cat"]
//	quota = "1GiB"
//	timeout = "60s"
//	memory = "512MiB"
//
//	[users.alice]
//	password = "scram-argon2id$v=19$m=65536,t=3,p=4$<salt>$<storedkey>$<serverkey>"
//	disabled = false
//	demo = false
//	keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop"]
//	email = "alice@example.edu"
//	must_change_password = false
//	commands = ["ls", "cat"]
//	quota = "500MiB"
//	max_timeout = "1h"
//
// The keys are:
//
//   - commands: the programs an account may run, by name (no "/"). The single
//     entry "*" allows any program. An empty list allows none, and so does
//     leaving commands out of both [defaults] and the user's table.
//   - quota: a size such as "1GiB" (see [ParseSize]) or an integer number of
//     bytes; 0, the default, means unlimited.
//   - trash_days: how many days what the user deletes through cubby is
//     kept in ~/.trash, an integer from 0 (no trash) to 3650; the default is
//     [DefaultTrashDays].
//   - cpu_time, timeout, max_timeout, memory, processes, file_size,
//     open_files and output: the limits of the user's jailed commands (see
//     [Limits]). Durations are strings in [time.ParseDuration] syntax, such as
//     "90s", or integer numbers of seconds; sizes are written like quota;
//     processes and open_files are integers. Each has a valid range, and 0
//     is never valid: a limit left out of the file is reported as 0, which
//     the server replaces with its built-in default. When both are set,
//     max_timeout must not be less than timeout.
//   - password: the verifier written by [auth.Verifier.String], never the
//     password itself. Every user must have one.
//   - keys: SSH public keys the user may log in with instead of the
//     password, one authorized_keys line each ("ssh-ed25519 AAAA... comment",
//     no options); Ed25519, ECDSA and RSA of at least 2048 bits. See
//     [auth.ParseAuthorizedKey].
//   - disabled: true keeps the account in the file but refuses its logins.
//   - demo: true marks a demonstration account. The caller (cubbyd) must serve
//     demo accounts only on a loopback address; see [Config.HasDemo].
//   - email: the user's email address, kept for the admin (cubby sends no
//     mail): one line of at most 254 bytes, without spaces, with an "@",
//     not starting with = + - @ (which a spreadsheet runs as a formula).
//   - must_change_password: true means the password was set for the user
//     (a one-time password from [Import]), so the user must choose a new
//     one before the server allows anything else. [SetPassword] removes
//     the key.
//
// Two more kinds of table declare folders that every user sees (see
// [Folders]):
//
//	[shares.handouts]               # ~/handouts, read-only, one copy on disk
//	path = "/srv/class/handouts"
//	mode = "ro"
//
//	[dropboxes.hw3]                 # ~/submit/hw3, uploads until the deadline
//	deadline = 2026-12-01T23:59:00-05:00
//	opens = 2026-11-20T08:00:00-05:00
//	extensions = { bob = 2026-12-03T23:59:00-05:00 }
//
// Their keys are:
//
//   - path: the host directory shared, absolute and written plainly; mode:
//     "ro", the only mode and the default. A share may not be called
//     "submit".
//   - deadline (required), opens and each extension are TOML date-times
//     with a time zone; opens must come before the deadline and an
//     extension after it. An extension for a name that is not a user is
//     reported in [Config.Warnings], not as an error, so that deleting a
//     user does not break the file.
//
// Share and drop box names follow the rules of user names, and no share
// and drop box may have the same name.
//
// A user's commands, quota, trash_days and each of the limits, when present, replace
// those of [defaults]; [User] holds the merged result. An empty file, or a
// users table with no accounts, is valid: it describes a server with no
// accounts yet.
//
// # Errors
//
// Loading is strict. Unknown keys (including keys spelled with different
// case), values of the wrong type, invalid user names, bad verifiers, bad
// sizes and durations, limits out of their range and a max_timeout less
// than timeout are all errors. Every problem in the file is reported as a
// [*ParseError] whose text is one line, "PATH:LINE: what is wrong", for
// example
//
//	users.toml:7: unknown key "pasword" in [users.alice]
//	users.toml:9: users.alice.memory: must be between 16MiB and 64GiB, not "8MiB"
//	users.toml:4: users.alice: max_timeout (5m, from [defaults]) must not be less than timeout (10m)
//
// A max_timeout less than timeout is reported at the line of the table
// header, [defaults] or [users.NAME], since the two values may come from
// different tables.
//
// The text starts with the path rather than "users:", like a compiler's
// errors, so that editors can jump to the line. Only the first problem is
// reported. Other failures, such as a file that cannot be read, are
// ordinary errors prefixed with "users: ".
//
// Loading runs in two steps: the toml package decodes the file into typed
// structs, then a separate validation step checks, in this order, the keys
// (known names, user names and TOML types), the values (verifiers, emails,
// commands, sizes, durations and the ranges of limits), that every user has a
// password, and finally that max_timeout is not less than timeout, in
// [defaults] and then for each user after merging. Each check walks the
// file from top to bottom, so the problem reported does not depend on map
// order.
//
// # Editing
//
// [AddUser], [AddUsers], [SetPassword] and [DeleteUser] change the file as
// text, so that the administrator's comments, ordering and spacing
// survive. They hold an exclusive lock on PATH.lock from reading the file
// until the new version has replaced it, check that the edited text
// loads, and write it atomically with mode 0600. They refuse, without writing, any file in
// which users are not written as [users.<name>] tables with plain keys (for
// example an inline users = { ... } table or dotted keys such as
// users.alice.password = "..."), because such files cannot be edited
// line by line with certainty.
//
// # Rosters
//
// [Import] creates the accounts of a class list, a CSV file read by
// [ReadRoster], in one edit: each gets a one-time password and
// must_change_password = true, and the caller hands out the passwords.
package users
