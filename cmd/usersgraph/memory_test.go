package main

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
)

func TestTheMemoryBudgetSizesTheCaches(t *testing.T) {
	noCgroup := func() (uint64, error) { return 0, errors.New("no cgroup limit") }
	cgroup := func(n uint64) func() (uint64, error) { return func() (uint64, error) { return n, nil } }
	for _, tc := range []struct {
		name           string
		env            map[string]string
		cgroup         func() (uint64, error)
		budget, answer int64
		response       int64
	}{
		{"without a setting or a container limit it is 64Mi", nil, noCgroup, 64 << 20, 8 << 20, 8 << 20},
		{"a container's limit is the budget", nil, cgroup(64 << 20), 64 << 20, 8 << 20, 8 << 20},
		{"MEMORY_BUDGET wins over the container's limit", map[string]string{"MEMORY_BUDGET": "512Mi"}, cgroup(64 << 20), 512 << 20, 64 << 20, 16 << 20},
		{"a response cache set smaller stays so", map[string]string{"MEMORY_BUDGET": "268435456", "RESPONSE_CACHE_MAX_BYTES": "1000"}, noCgroup, 256 << 20, 32 << 20, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"GOMEMLIMIT": "off-in-tests"} // sizeMemory leaves the test process's limit alone
			for k, v := range tc.env {
				env[k] = v
			}
			t.Setenv("GOMEMLIMIT", env["GOMEMLIMIT"])
			cfg, err := loadConfig(nil, func(k string) string { return env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			sizeMemory(&cfg, tc.cgroup, slog.New(slog.DiscardHandler))
			if cfg.MemoryBudget != tc.budget || cfg.CacheMaxBytes != tc.answer || cfg.ResponseCacheBytes != tc.response {
				t.Fatalf("budget %d, answer cache %d, response cache %d; want %d, %d, %d",
					cfg.MemoryBudget, cfg.CacheMaxBytes, cfg.ResponseCacheBytes, tc.budget, tc.answer, tc.response)
			}
			if cfg.PersistedQueryBytes != tc.budget/32 || cfg.DocumentCacheBytes != tc.budget/16 {
				t.Fatalf("persisted queries %d, documents %d; want 1/32 and 1/16 of %d",
					cfg.PersistedQueryBytes, cfg.DocumentCacheBytes, tc.budget)
			}
		})
	}
	t.Run("GOMEMLIMIT leaves room for the binary's resident code", func(t *testing.T) {
		for budget, want := range map[int64]int64{
			64 << 20:  43_620_761,  // 57.6Mi less 16Mi
			128 << 20: 104_018_739, // 115.2Mi less 16Mi
			16 << 20:  8 << 20,     // never below half
			1 << 30:   949_590_425,
		} {
			if got := goMemLimit(budget); got != want {
				t.Errorf("budget %d: GOMEMLIMIT %d, want %d", budget, got, want)
			}
		}
	})
	t.Run("GOGC is 250 while a memory limit holds, unless set", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			gogcSet bool
			limit   int64
			want    int
			set     bool
		}{
			{"a derived or given limit, GOGC unset", false, 43_620_761, gcPercentUnderLimit, true},
			{"GOGC set", true, 43_620_761, 0, false},
			{"no limit (GOMEMLIMIT=off)", false, math.MaxInt64, 0, false},
		} {
			if got, set := gcPercent(tc.gogcSet, tc.limit); got != tc.want || set != tc.set {
				t.Errorf("%s: GOGC %d (set %v), want %d (set %v)", tc.name, got, set, tc.want, tc.set)
			}
		}
	})
	t.Run("a budget that is no size is refused, naming MEMORY_BUDGET", func(t *testing.T) {
		for _, v := range []string{"lots", "1Ti", "-5Mi", "1Mi"} {
			if _, err := loadConfig(nil, env(map[string]string{"MEMORY_BUDGET": v}), io.Discard); err == nil || !strings.Contains(err.Error(), "MEMORY_BUDGET") {
				t.Errorf("MEMORY_BUDGET=%s: %v", v, err)
			}
		}
	})
}
