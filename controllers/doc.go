// Package controllers runs PackageIndex objects: pure builders turn a
// PackageIndex into the Deployment, Service, storage and the rest, and a
// thin reconcile loop applies them with server-side apply and reports what
// the cluster says back in the status.
package controllers
