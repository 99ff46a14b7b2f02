// Package auth decides whether a request may do what it asks: it checks HTTP
// Basic credentials against an Apache htpasswd file for the actions
// pypiserver's -a/--authenticate protects (update, download, list).
//
// # Configuration
//
// The flags keep pypiserver's meaning. "-P ." turns authentication off and
// must come with "-a ."; "-a ." needs "-P ." (pypiserver refuses either
// alone, since each alone is more likely a mistake than a wish). Without -P,
// protected actions are refused to everyone (ErrForbidden), so that a server
// started without a password file is read-only rather than open.
//
// # The file
//
// Entries are those Apache's htpasswd writes and pypiserver (through passlib)
// accepts: bcrypt ($2y$, $2a$, $2b$), apr1-MD5 ($apr1$), md5-crypt ($1$),
// SHA-crypt ($5$, $6$, with rounds=) and unsalted SHA-1 ({SHA}). Plain-text
// passwords are refused unless explicitly allowed. DES crypt is refused
// always: it looks at 8 bytes of a password, and a 13-character field cannot
// be told from a plain-text password. Blank lines and "#" comments are
// skipped. A line that gives no usable entry is logged with its number and
// user name, never its hash, and the other lines still count; a file without
// a single usable entry is refused as a whole, since it is far more often a
// truncated or mistaken file than a wish to lock everyone out.
//
// # Changes
//
// The file is the source of truth at every request. Its identity (on Linux
// device, inode, size, modification and change times; elsewhere size and
// modification time alone; following symbolic links) is looked at once per
// checked request, and a changed file is read and parsed
// before that request is answered. A Kubernetes Secret volume updates by
// swapping its "..data" symbolic link to a new directory, which gives the
// path a new identity, so a new password works on the very next request.
// Until a changed file parses into at least one usable entry the previous
// entries stay in force, so a half-written or broken file never locks out
// users who were valid before. A file rewritten in place can keep its
// identity within one tick of the clock, so for two seconds after a change
// the file is read on every request (unchanged content costs a digest, not a
// parse).
//
// # Cost and timing
//
// Verification costs the same for an unknown user as for a wrong password:
// an unknown user is checked against a dummy hash of the scheme and cost most
// entries use. Because pip sends credentials with every request and bcrypt is
// deliberately slow, successful checks are remembered by an HMAC of user and
// password under a random per-process key (never the password itself), in a
// bounded set that is dropped whenever the file's content changes.
package auth
