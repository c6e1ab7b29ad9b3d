package telemetry_test

import (
	"strings"
	"testing"

	"github.com/usersgraph/usersgraph/redisstore"
	"github.com/usersgraph/usersgraph/telemetry"
)

func TestRedisMetrics(t *testing.T) {
	t.Run("a server without Redis shows none", func(t *testing.T) {
		if out := scrape(t, telemetry.New()); strings.Contains(out, "usersgraph_redis_") {
			t.Fatalf("Redis metrics without Redis:\n%s", out)
		}
	})
	t.Run("with Redis, the breaker starts closed and every operation's results start at zero", func(t *testing.T) {
		out := scrape(t, telemetry.New().WithRedis())
		for _, want := range []string{
			`usersgraph_redis_breaker_state{state="closed"} 1`,
			`usersgraph_redis_breaker_state{state="open"} 0`,
			`usersgraph_redis_operations_total{operation="cache_get",result="error"} 0`,
			`usersgraph_redis_operations_total{operation="apq_add",result="skipped"} 0`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %s", want)
			}
		}
	})
	t.Run("operations are counted by result, and the gauge follows the breaker", func(t *testing.T) {
		m := telemetry.New().WithRedis()
		m.RedisOperation(redisstore.OpRateTake, redisstore.ResultError)
		m.RedisBreakerChanged(redisstore.BreakerOpen)
		m.RedisOperation(redisstore.OpCacheGet, redisstore.ResultSkipped)
		m.RedisOperation(redisstore.OpCacheGet, redisstore.ResultSkipped)
		out := scrape(t, m)
		for _, want := range []string{
			`usersgraph_redis_operations_total{operation="rate_take",result="error"} 1`,
			`usersgraph_redis_operations_total{operation="cache_get",result="skipped"} 2`,
			`usersgraph_redis_breaker_state{state="open"} 1`,
			`usersgraph_redis_breaker_state{state="closed"} 0`,
			`usersgraph_redis_breaker_state{state="half-open"} 0`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %s", want)
			}
		}
	})
}
