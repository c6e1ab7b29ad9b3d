// Package redisstore keeps in Redis what the replicas of a server share:
// persisted queries, cached Cognigy answers (still keyed per credential),
// and one upstream request budget, since Cognigy's quota is per client IP.
package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/usersgraph/usersgraph/restclient"
)

// Key prefixes: everything this package writes is under "usersgraph:".
const (
	prefix        = "usersgraph:"
	hashKeyKey    = prefix + "cache-hash-key"
	cachePrefix   = prefix + "cache:"
	apqPrefix     = prefix + "apq:"
	rateKey       = "cognigy" // redis_rate adds its own prefix
	apqTTL        = 24 * time.Hour
	opTimeout     = 500 * time.Millisecond
	hashKeyLength = 32
)

// Store is a connection to Redis.
type Store struct {
	rdb *redis.Client
}

// Open connects to the Redis at url (redis:// or rediss://, with
// credentials and database in the URL) and checks it answers.
func Open(ctx context.Context, url string) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("REDIS_URL must be a redis:// or rediss:// URL")
	}
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return &Store{rdb: rdb}, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.rdb.Close() }

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
	return key, nil
}

// Cache is the shared cache of Cognigy answers.
func (s *Store) Cache() restclient.SharedCache { return cache{s.rdb} }

type cache struct{ rdb *redis.Client }

func (c cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	b, err := c.rdb.Get(ctx, cachePrefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

func (c cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return c.rdb.Set(ctx, cachePrefix+key, value, ttl).Err()
}

// RateLimit is one budget of perSecond requests (bursts of burst) for
// every replica, kept by redis_rate's GCRA in Redis. Rates are counted per
// minute, so 3.3 per second is 198 per minute.
func (s *Store) RateLimit(perSecond float64, burst int) restclient.SharedRateLimit {
	limit := redis_rate.Limit{Rate: max(1, int(math.Round(perSecond*60))), Period: time.Minute, Burst: max(1, burst)}
	return rateLimit{limiter: redis_rate.NewLimiter(s.rdb), limit: limit}
}

type rateLimit struct {
	limiter *redis_rate.Limiter
	limit   redis_rate.Limit
}

func (r rateLimit) Take(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := r.limiter.Allow(ctx, rateKey, r.limit)
	if err != nil {
		return 0, err
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}

// PersistedQueries is the shared store of automatic persisted queries
// (hash → query text), kept for a day after last use.
func (s *Store) PersistedQueries() *PersistedQueries { return &PersistedQueries{s.rdb} }

// PersistedQueries implements gqlgen's graphql.Cache[string].
type PersistedQueries struct{ rdb *redis.Client }

// Get returns a stored query and renews its time to live.
func (p *PersistedQueries) Get(ctx context.Context, hash string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	q, err := p.rdb.GetEx(ctx, apqPrefix+hash, apqTTL).Result()
	if err != nil {
		return "", false // a miss makes the client send the query again
	}
	return q, true
}

// Add stores a query under its hash.
func (p *PersistedQueries) Add(ctx context.Context, hash, query string) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	_ = p.rdb.Set(ctx, apqPrefix+hash, query, apqTTL).Err()
}
