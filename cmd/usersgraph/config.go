package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usersgraph/usersgraph/graph/loaders"
)

// config is the server's whole configuration, filled once from flags and
// environment variables (a flag wins over its variable) and validated.
type config struct {
	APIURL            string // empty: demo mode
	APIKey            string
	ListenAddr        string
	CORSOrigins       []string
	UpstreamTimeout   time.Duration
	Lookup            loaders.Route
	LookupConcurrency int
	LogFormat         string
	LogLevel          slog.Level
}

// setting is one configuration item: its variable, its flag and its
// default, all documented in the README's configuration table.
type setting struct {
	env, flag, def, usage string
	secret                bool
}

var settings = []setting{
	{env: "COGNIGY_API_URL", flag: "api-url", usage: "Cognigy API base URL including /new (unset: demo mode on an embedded fake)"},
	{env: "COGNIGY_API_KEY", flag: "api-key", usage: "API key used for callers that send no credential (prefer the variable: flags show in process lists)", secret: true},
	{env: "LISTEN_ADDR", flag: "listen", def: ":8080", usage: "address to listen on"},
	{env: "CORS_ALLOWED_ORIGINS", flag: "cors-allowed-origins", def: "*", usage: "comma-separated origins allowed by CORS, or *"},
	{env: "UPSTREAM_TIMEOUT", flag: "upstream-timeout", def: "10s", usage: "timeout of each upstream call"},
	{env: "USER_LOOKUP", flag: "user-lookup", def: "list", usage: "how createdBy/lastChangedBy users are fetched: list (GET /v2.0/users?filter=<id>) or byid (GET /v2.0/users/{id})"},
	{env: "LOOKUP_CONCURRENCY", flag: "lookup-concurrency", def: strconv.Itoa(loaders.DefaultConcurrency), usage: "upstream lookups of one request that may run at once"},
	{env: "LOG_FORMAT", flag: "log-format", def: "text", usage: "log format: text or json"},
	{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "log level: debug, info, warn or error"},
}

// errUsage is returned for -h; main exits 0 after the usage was printed.
var errUsage = errors.New("usage requested")

// loadConfig reads args and the environment. Errors name the setting in one
// line and never repeat a secret's value.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("usersgraph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		if s.secret {
			// The flag's default would print the secret in -h.
			values[s.env] = new(string)
			*values[s.env] = def
			fs.Func(s.flag, usage, func(v string) error { *values[s.env] = v; return nil })
			continue
		}
		values[s.env] = fs.String(s.flag, def, usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, errUsage
		}
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(env string) string { return strings.TrimSpace(*values[env]) }

	c := config{APIURL: get("COGNIGY_API_URL"), APIKey: get("COGNIGY_API_KEY"), ListenAddr: get("LISTEN_ADDR")}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
			return c, errors.New("COGNIGY_API_URL must be an absolute http(s) URL without query or user info, e.g. https://api-trial.cognigy.ai/new")
		}
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return c, fmt.Errorf("LISTEN_ADDR must be host:port or :port, got %q", c.ListenAddr)
	}
	for _, o := range strings.Split(get("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if len(c.CORSOrigins) == 0 {
		return c, errors.New("CORS_ALLOWED_ORIGINS must list at least one origin, or *")
	}
	d, err := time.ParseDuration(get("UPSTREAM_TIMEOUT"))
	if err != nil || d <= 0 {
		return c, fmt.Errorf("UPSTREAM_TIMEOUT must be a positive duration such as 10s, got %q", get("UPSTREAM_TIMEOUT"))
	}
	c.UpstreamTimeout = d
	switch r := loaders.Route(strings.ToLower(get("USER_LOOKUP"))); r {
	case loaders.RouteList, loaders.RouteByID:
		c.Lookup = r
	default:
		return c, fmt.Errorf("USER_LOOKUP must be list or byid, got %q", get("USER_LOOKUP"))
	}
	n, err := strconv.Atoi(get("LOOKUP_CONCURRENCY"))
	if err != nil || n < 1 || n > 1000 {
		return c, fmt.Errorf("LOOKUP_CONCURRENCY must be an integer from 1 to 1000, got %q", get("LOOKUP_CONCURRENCY"))
	}
	c.LookupConcurrency = n
	switch c.LogFormat = strings.ToLower(get("LOG_FORMAT")); c.LogFormat {
	case "text", "json":
	default:
		return c, fmt.Errorf("LOG_FORMAT must be text or json, got %q", get("LOG_FORMAT"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", get("LOG_LEVEL"))
	}
	return c, nil
}

// redactURL is the URL for logs: scheme, host and path only.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
