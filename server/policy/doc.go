// Package policy decides who may do what to which project when the server
// runs with a policy file (--policy): it maps identities (htpasswd users,
// Kubernetes service accounts and their namespaces, OIDC trusted publishers,
// anyone at all) to rights (upload, yank, remove, status, download, list)
// over patterns of normalized project names.
//
// # Precedence
//
// Grants only add rights; there is no deny rule. The grants that name an
// identity are taken in layers by how they name it: anyone, the htpasswd
// user, the service account, its namespace, the publisher. Within a layer,
// where several patterns match a project the most specific one decides and
// the others are not consulted: an exact name beats every pattern, and of
// two patterns the one with more literal characters wins ("acme-lib-*"
// over "acme-*" over "*"); grants with equally specific patterns add up.
// The rights of the layers then add up. So a broad grant can be narrowed
// for one project by a grant to the same subject naming that project with
// fewer rights, a narrowed grant to anyone never takes away what a user was
// given by name, and the order of the grants in the file never matters.
//
// # Changes
//
// The file is looked at (one stat) before each decision and read again when
// it changed, as the htpasswd file is. A changed file that does not parse,
// or names an unknown right, kind or field, is logged and the previous
// policy stays in force; at start it is an error.
package policy
