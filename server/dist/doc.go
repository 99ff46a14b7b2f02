// Package dist understands Python distribution file names: it tells a wheel
// from an sdist or an egg, extracts the project name and version the way
// pypiserver does (so existing directories keep their meaning), normalizes
// project names per PEP 503 and orders versions per PEP 440.
//
// Everything here is pure: no I/O, no global state, safe for concurrent use.
package dist
