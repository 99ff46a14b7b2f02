package controllers

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// ServerCheck reads a `pkgindex serve` command line (without "serve") and
// environment as the server would, without looking for the files they
// name, and returns the roots and the listen address they give. The
// operator does not link the server's parser itself; its caller passes it
// in, so what the operator accepts is what the server accepts.
type ServerCheck func(args []string, env func(string) string) (roots []string, listen string, err error)

// serverArgsProblem says why the server would not start, or would start
// elsewhere than the operator expects, with the command line and
// environment idx gives it; "" when nothing is wrong. It names the first
// extra argument or environment variable at fault, so the person who wrote
// it knows which to fix.
func serverArgsProblem(idx *v1alpha1.PackageIndex, check ServerCheck) string {
	if check == nil {
		return ""
	}
	s := idx.Spec.Server
	withEnv := func(vars []string) func(string) string {
		return func(name string) string {
			if !slices.Contains(vars, name) {
				return ""
			}
			return literalEnv(idx)[name]
		}
	}
	try := func(args []string, env func(string) string) string {
		got, listen, err := check(args[1:], env)
		switch {
		case err != nil:
			return oneLine(err.Error())
		case !slices.Equal(got, roots(idx)):
			return fmt.Sprintf("it would change the package directories to %q; the operator owns them (use storage and server.extraRoots)", got)
		case listen != listenAddr:
			return fmt.Sprintf("it would listen on %q; the operator owns the address, which the probes and the Service use", listen)
		}
		return ""
	}
	base := idx.DeepCopy()
	base.Spec.Server.ExtraArgs = nil
	// The files the operator mounts are not here to be read; the schema
	// and the builder vouch for the flags that name them.
	baseArgs := withoutOperatorFiles(serverArgs(base))
	for i, a := range s.ExtraArgs {
		if why := try(append(slices.Clip(baseArgs), a), withEnv(nil)); why != "" {
			return fmt.Sprintf("server.extraArgs[%d] %q is refused, so the Deployment is left as it was: %s", i, a, why)
		}
	}
	for _, e := range s.Env {
		if e.ValueFrom != nil {
			continue
		}
		if why := try(baseArgs, withEnv([]string{e.Name})); why != "" {
			return fmt.Sprintf("server.env %s is refused, so the Deployment is left as it was: %s", e.Name, why)
		}
	}
	// Each alone is fine; together they may still not be.
	all := slices.Collect(maps.Keys(literalEnv(idx)))
	if why := try(append(slices.Clip(baseArgs), s.ExtraArgs...), withEnv(all)); why != "" {
		return "server.extraArgs and server.env together are refused, so the Deployment is left as it was: " + why
	}
	return ""
}

// literalEnv is the environment of spec.server.env whose values are
// written out; values from Secrets or fields are not known here.
func literalEnv(idx *v1alpha1.PackageIndex) map[string]string {
	out := map[string]string{}
	for _, e := range idx.Spec.Server.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

// oneLine joins a multi-line error, as errors.Join makes, for a condition.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
