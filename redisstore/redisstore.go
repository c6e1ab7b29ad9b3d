// Package redisstore keeps in Redis what the replicas of a server share:
// persisted queries, cached Cognigy answers (still keyed per credential),
// and one upstream request budget, since Cognigy's quota is per client IP.
// Redis only saves work: every command is bounded by a short timeout, and
// after a failure a circuit breaker stops asking Redis for a while, during
// which the replica uses its own cache, rate budget and persisted queries.
package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/usersgraph/usersgraph/restclient"
	"golang.org/x/time/rate"
)

// Key prefixes: everything this package writes is under "usersgraph:".
const (
	prefix        = "usersgraph:"
	hashKeyKey    = prefix + "cache-hash-key"
	cachePrefix   = prefix + "cache:"
	apqPrefix     = prefix + "apq:"
	rateKey       = "cognigy" // redis_rate adds its own prefix
	apqTTL        = 24 * time.Hour
	hashKeyLength = 32
	// localQueries is how many persisted queries a replica keeps itself,
	// as it does without Redis.
	localQueries = 1000
	// openTimeout bounds Open: the first connection may be slower than a
	// command (TLS, a DNS lookup) and a server that cannot reach its Redis
	// at start says so instead of starting without it.
	openTimeout = 5 * time.Second
	// dialTimeout bounds a new connection's TCP dial when no shorter
	// deadline applies; a command's deadline always applies.
	dialTimeout = time.Second
)

// DefaultTimeout bounds each Redis command: on loopback or a LAN Redis
// answers in well under a millisecond, and a request must not wait for a
// Redis that does not answer longer than this.
const DefaultTimeout = 50 * time.Millisecond

// DefaultCooldown is how long the store does without Redis after a failed
// command before it asks again.
const DefaultCooldown = 2 * time.Second

// Operations, as reported to an Observer.
const (
	OpCacheGet = "cache_get" // read a shared Cognigy answer
	OpCacheSet = "cache_set" // share a Cognigy answer
	OpRateTake = "rate_take" // spend from the shared upstream budget
	OpAPQGet   = "apq_get"   // read a persisted query
	OpAPQAdd   = "apq_add"   // persist a query
)

// Results of an operation, as reported to an Observer.
const (
	ResultOK      = "ok"      // Redis answered (a cache miss included)
	ResultError   = "error"   // Redis failed or did not answer in time
	ResultSkipped = "skipped" // the breaker was open: Redis was not asked
)

// Observer learns what the store does with Redis, for metrics. Its methods
// are called on the request path and must be quick.
type Observer interface {
	// RedisOperation reports one operation and its result.
	RedisOperation(op, result string)
	// RedisBreakerChanged reports the breaker's new state.
	RedisBreakerChanged(state BreakerState)
}

// Option configures a Store.
type Option func(*Store)

// WithTimeout bounds each Redis command by d (DefaultTimeout if d <= 0).
func WithTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithCooldown sets how long the store does without Redis after a failure
// (DefaultCooldown if d <= 0).
func WithCooldown(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.cooldown = d
		}
	}
}

// WithLogger logs the breaker's changes to l: a warning when Redis fails,
// with the error, and a line when it answers again.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.logger = l
		}
	}
}

// WithObserver reports operations and the breaker's state to o.
func WithObserver(o Observer) Option { return func(s *Store) { s.observer = o } }

// Store is a connection to Redis.
type Store struct {
	rdb      *redis.Client
	timeout  time.Duration
	cooldown time.Duration
	logger   *slog.Logger
	observer Observer
	breaker  *breaker

	mu      sync.Mutex
	hashKey []byte // set by HashKey; put back in Redis by new connections
}

// Open connects to the Redis at url (redis:// or rediss://, with
// credentials and database in the URL) and checks it answers. Timeouts,
// retries and pool waits are set from the command timeout unless the URL
// sets them (read_timeout=, max_retries=, ...).
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	ropts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("REDIS_URL must be a redis:// or rediss:// URL")
	}
	s := &Store{timeout: DefaultTimeout, cooldown: DefaultCooldown, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	s.breaker = newBreaker(s.cooldown, time.Now, s.breakerChanged)
	if s.observer != nil {
		s.observer.RedisBreakerChanged(BreakerClosed)
	}
	boundCommands(ropts, s.timeout)
	ropts.OnConnect = s.restoreHashKey
	s.rdb = redis.NewClient(ropts)
	pctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	if err := s.rdb.Ping(pctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return s, nil
}

// boundCommands makes go-redis give up on a command within timeout. Its
// defaults wait 5 s for a reply and retry 3 times, and ignore the
// context's deadline on the socket: a frozen Redis held a request for
// 10-15 s, a dead one added 0.5-1 s of dial retries to each. Here the
// context's deadline bounds the whole command, nothing is retried (the
// breaker decides when to try again), and a command waits for a pooled
// connection no longer than for a reply.
func boundCommands(o *redis.Options, timeout time.Duration) {
	o.ContextTimeoutEnabled = true
	if o.ReadTimeout == 0 {
		o.ReadTimeout = timeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = timeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = timeout
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = max(timeout, dialTimeout)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = -1 // none
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = 1 // one attempt
	}
}

// Close closes the connection.
func (s *Store) Close() error { return s.rdb.Close() }

// Breaker is the state of the store's circuit breaker.
func (s *Store) Breaker() BreakerState { return s.breaker.State() }

// do runs one Redis operation under the breaker and the command timeout.
// It returns false, without calling fn, while the breaker is open; a
// false return with a nil error never happens. fn's error redis.Nil (no
// such key) is an answer, not a failure.
func (s *Store) do(ctx context.Context, op string, fn func(ctx context.Context) error) (bool, error) {
	ticket, ok := s.breaker.allow()
	if !ok {
		s.observe(op, ResultSkipped)
		return false, errUnavailable
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := fn(cctx)
	cancel()
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		s.breaker.succeeded(ticket)
		s.observe(op, ResultOK)
		return true, err
	case ctx.Err() != nil:
		// The caller went away (or its own deadline came first): that
		// says nothing about Redis.
		s.breaker.abandoned(ticket)
		return false, err
	}
	s.observe(op, ResultError)
	s.breaker.failed(ticket, fmt.Errorf("%s: %w", op, err))
	return false, err
}

// errUnavailable is returned while the breaker keeps Redis out of the way.
var errUnavailable = errors.New("redis: not asked while its circuit breaker is open")

func (s *Store) observe(op, result string) {
	if s.observer != nil {
		s.observer.RedisOperation(op, result)
	}
}

func (s *Store) breakerChanged(state BreakerState, err error) {
	if s.observer != nil {
		s.observer.RedisBreakerChanged(state)
	}
	switch state {
	case BreakerOpen:
		s.logger.Warn("redis failed: using this replica's own cache, rate budget and persisted queries until it answers again",
			"err", err, "retry_in", s.cooldown)
	case BreakerClosed:
		s.logger.Info("redis answers again: sharing resumes")
	}
}

// HashKey returns the key every replica uses to hash credentials into
// cache keys: made up by the first replica to ask, then shared through
// Redis, so that no setting has to carry it.
func (s *Store) HashKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, hashKeyLength)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	if err := s.rdb.SetNX(ctx, hashKeyKey, fresh, 0).Err(); err != nil {
		return nil, fmt.Errorf("redis: store the cache hash key: %w", err)
	}
	key, err := s.rdb.Get(ctx, hashKeyKey).Bytes()
	if err != nil {
		return nil, fmt.Errorf("redis: read the cache hash key: %w", err)
	}
	if len(key) < hashKeyLength {
		return nil, fmt.Errorf("redis: %s holds %d bytes, want %d", hashKeyKey, len(key), hashKeyLength)
	}
	s.mu.Lock()
	s.hashKey = key
	s.mu.Unlock()
	return key, nil
}

// restoreHashKey writes the hash key this replica uses back into Redis,
// on each new connection, unless Redis has one: a Redis that restarted
// empty would otherwise let the next replica to start make up another key,
// and share no entry with the others. The write's failure is the next
// command's to find.
func (s *Store) restoreHashKey(ctx context.Context, cn *redis.Conn) error {
	s.mu.Lock()
	key := s.hashKey
	s.mu.Unlock()
	if key != nil {
		_ = cn.SetNX(ctx, hashKeyKey, key, 0).Err()
	}
	return nil
}

// Cache is the shared cache of Cognigy answers. While Redis is failing its
// Get returns an error, which the client counts as a miss of the shared
// cache after its own.
func (s *Store) Cache() restclient.SharedCache { return cache{s} }

type cache struct{ s *Store }

func (c cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	var b []byte
	_, err := c.s.do(ctx, OpCacheGet, func(ctx context.Context) (err error) {
		b, err = c.s.rdb.Get(ctx, cachePrefix+key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (c cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	_, err := c.s.do(ctx, OpCacheSet, func(ctx context.Context) error {
		return c.s.rdb.Set(ctx, cachePrefix+key, value, ttl).Err()
	})
	return err
}

// RateLimit is one budget of perSecond requests (bursts of burst) for
// every replica, kept by redis_rate's GCRA in Redis. Rates are counted per
// minute, so 3.3 per second is 198 per minute. While Redis is failing the
// replica spends a budget of its own of the same size, as it would without
// Redis.
func (s *Store) RateLimit(perSecond float64, burst int) restclient.SharedRateLimit {
	limit := redis_rate.Limit{Rate: max(1, int(math.Round(perSecond*60))), Period: time.Minute, Burst: max(1, burst)}
	return rateLimit{
		s:       s,
		limiter: redis_rate.NewLimiter(s.rdb),
		limit:   limit,
		local:   rate.NewLimiter(rate.Limit(perSecond), max(1, burst)),
	}
}

type rateLimit struct {
	s       *Store
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
	local   *rate.Limiter
}

func (r rateLimit) Take(ctx context.Context) (time.Duration, error) {
	var res *redis_rate.Result
	asked, err := r.s.do(ctx, OpRateTake, func(ctx context.Context) (err error) {
		res, err = r.limiter.Allow(ctx, rateKey, r.limit)
		return err
	})
	if !asked {
		if ctx.Err() != nil {
			return 0, err
		}
		return r.takeLocal(), nil
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

// takeLocal spends from the replica's own budget: 0 if a request may go
// now, and otherwise how long to wait, spending nothing.
func (r rateLimit) takeLocal() time.Duration {
	now := time.Now()
	res := r.local.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return max(d, time.Millisecond)
	}
	return 0
}

// PersistedQueries is the shared store of automatic persisted queries
// (hash → query text), kept for a day after last use, in front of local,
// this replica's own (nil: an LRU of localQueries entries).
func (s *Store) PersistedQueries(local graphql.Cache[string]) *PersistedQueries {
	if local == nil {
		local = lru.New[string](localQueries)
	}
	return &PersistedQueries{s: s, local: local}
}

// PersistedQueries implements gqlgen's graphql.Cache[string]. Queries are
// also kept in memory, as without Redis: a query this replica has seen is
// found while Redis is failing, and costs no command when it is not.
type PersistedQueries struct {
	s     *Store
	local graphql.Cache[string]
}

// Get returns a stored query. A query found in Redis has its time to live
// renewed there and is kept in memory too.
func (p *PersistedQueries) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := p.local.Get(ctx, hash); ok {
		return q, true
	}
	var q string
	_, err := p.s.do(ctx, OpAPQGet, func(ctx context.Context) (err error) {
		q, err = p.s.rdb.GetEx(ctx, apqPrefix+hash, apqTTL).Result()
		return err
	})
	if err != nil {
		return "", false // a miss makes the client send the query again
	}
	p.local.Add(ctx, hash, q)
	return q, true
}

// Add stores a query under its hash.
func (p *PersistedQueries) Add(ctx context.Context, hash, query string) {
	p.local.Add(ctx, hash, query)
	_, _ = p.s.do(ctx, OpAPQAdd, func(ctx context.Context) error {
		return p.s.rdb.Set(ctx, apqPrefix+hash, query, apqTTL).Err()
	})
}
