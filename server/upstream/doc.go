// Package upstream makes the index a pull-through cache of other Simple API
// indexes (PyPI or any PEP 503/691 index): a project no root holds is served
// from the first upstream that has it, its page and files kept on the
// shared volume under <root>/.pkgindex/cache/ so that every replica serves
// the same, revalidated after a TTL and served stale when the upstream
// fails. Files are checked against the digest the upstream page listed
// before anyone may keep or fully receive them.
//
// The package decides nothing about local projects: the server asks it only
// for names that have no local files, or that the operator allowed to merge.
package upstream
