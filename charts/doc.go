// Package charts holds no code: its tests check the three ways users
// install the operator, each against a real API server (envtest). The Helm
// chart in pkgindex/ and the kustomize install in ../config/default are
// rendered by the real helm and kubectl (built into bin/ by make tools) and
// applied with a server-side dry run; the Argo CD health check in
// ../config/argocd runs in gopher-lua, the interpreter Argo CD embeds.
package charts
