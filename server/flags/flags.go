// Package flags spells the flags of pkgindex serve once: the server defines
// them with these names and the operator writes them into every index
// pod's arguments. It imports nothing, so the operator can use it without
// the server's code (test/boundaries holds it to that).
package flags

// Names of the flags, without the leading dashes.
const (
	Root                    = "root"
	Listen                  = "listen"
	HashAlgo                = "hash-algo"
	FallbackURL             = "fallback-url"
	DisableFallback         = "disable-fallback"
	CacheControl            = "cache-control"
	ServerBaseURL           = "server-base-url"
	Welcome                 = "welcome"
	HealthEndpoint          = "health-endpoint"
	LogFormat               = "log-format"
	LogLevel                = "log-level"
	TimestampGuard          = "timestamp-guard"
	Layout                  = "layout"
	StorageTimeout          = "storage-timeout"
	TrustProxy              = "trust-proxy"
	ShutdownGrace           = "shutdown-grace"
	Passwords               = "passwords"
	Authenticate            = "authenticate"
	AllowPlaintextPasswords = "allow-plaintext-passwords"
	Writers                 = "writers"
	Policy                  = "policy"
	Overwrite               = "overwrite"
	MaxUploadSize           = "max-upload-size"
	TempMaxAge              = "temp-max-age"
	HeaderTimeout           = "header-timeout"
	UploadStallTimeout      = "upload-stall-timeout"
	Upstream                = "upstream"
	UpstreamCredentials     = "upstream-credentials"
	UpstreamCA              = "upstream-ca"
	UpstreamTimeout         = "upstream-timeout"
	UpstreamTTL             = "upstream-ttl"
	UpstreamMerge           = "upstream-merge"
	UpstreamMergeFile       = "upstream-merge-file"
	UpstreamDeny            = "upstream-deny"
	UpstreamDenyFile        = "upstream-deny-file"
	UpstreamCacheSize       = "upstream-cache-size"
	UpstreamMaxPageSize     = "upstream-max-page-size"
	UpstreamMaxFetches      = "upstream-max-fetches"
)

// Arg is the argument that gives the flag name the value: --name=value.
func Arg(name, value string) string { return "--" + name + "=" + value }

// On is the argument that turns the boolean flag name on: --name.
func On(name string) string { return "--" + name }
