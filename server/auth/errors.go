package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// Errors Check returns; callers branch on them with errors.Is. The wrapped
// messages are safe to show to the client: they never say whether a user
// name exists.
var (
	// ErrUnauthorized means the request carries no usable Basic credentials
	// or wrong ones. Answer 401 and call Challenge so that the client asks
	// for (or sends) credentials.
	ErrUnauthorized = errors.New("authentication required")
	// ErrForbidden means no credentials could ever allow the action: it is
	// protected but the server has no password file. Answer 403; a 401
	// would only make clients prompt for credentials that cannot work.
	ErrForbidden = errors.New("forbidden")
)

// The reasons are built once so that refusing a request allocates nothing.
var (
	errNoCredentials = fmt.Errorf("%w: no credentials", ErrUnauthorized)
	errNotBasic      = fmt.Errorf("%w: only Basic credentials are accepted", ErrUnauthorized)
	errMalformed     = fmt.Errorf("%w: malformed Basic credentials", ErrUnauthorized)
	errWrong         = fmt.Errorf("%w: wrong user name or password", ErrUnauthorized)
	errNoUsers       = fmt.Errorf("%w: the server has no password file (-P/--passwords), so only tokens are accepted", ErrUnauthorized)
	errNoFile        = fmt.Errorf("%w: the server has no password file (-P/--passwords), so this action is refused to everyone", ErrForbidden)
)

// WWWAuthenticate is the challenge pypiserver sends with a 401; clients
// such as pip and twine key stored credentials by its realm.
const WWWAuthenticate = `Basic realm="pypi"`

// Challenge sets the WWW-Authenticate header of a 401 answer. Call it before
// WriteHeader.
func Challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", WWWAuthenticate)
}
