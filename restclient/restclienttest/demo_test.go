package restclienttest

import (
	"reflect"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestNewID(t *testing.T) {
	seen := map[string]int{}
	prev := ""
	for i := -50; i < 5000; i++ {
		id := NewID(i)
		if !idPattern.MatchString(id) {
			t.Fatalf("NewID(%d) = %q", i, id)
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("NewID(%d) == NewID(%d)", i, j)
		}
		seen[id] = i
		if i >= 0 && id <= prev {
			t.Fatalf("NewID(%d) = %s does not sort after %s", i, id, prev)
		}
		if i >= 0 {
			prev = id
		}
	}
	if first, again := NewID(42), NewID(42); first != again {
		t.Error("NewID is not deterministic")
	}
}

func TestDemoUsers(t *testing.T) {
	const n = 300
	users := DemoUsers(n, 1)
	byID := map[string]User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	from := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

	t.Run("deterministic per seed", func(t *testing.T) {
		if !reflect.DeepEqual(users, DemoUsers(n, 1)) {
			t.Error("same seed, different users")
		}
		if reflect.DeepEqual(users, DemoUsers(n, 2)) {
			t.Error("different seeds, same users")
		}
		if got := len(DemoUsers(0, 1)); got != 0 {
			t.Errorf("DemoUsers(0) has %d users", got)
		}
	})
	t.Run("unique ids and ASCII e-mails", func(t *testing.T) {
		emails := map[string]bool{}
		for _, u := range users {
			if !idPattern.MatchString(u.ID) {
				t.Errorf("id %q", u.ID)
			}
			if emails[u.Email] || u.Email == "" {
				t.Errorf("e-mail %q empty or repeated", u.Email)
			}
			emails[u.Email] = true
			for _, r := range u.Email {
				if r > unicode.MaxASCII {
					t.Errorf("e-mail %q is not ASCII", u.Email)
					break
				}
			}
		}
		if len(byID) != n {
			t.Errorf("%d distinct ids, want %d", len(byID), n)
		}
	})
	t.Run("names: featured, non-ASCII, duplicated", func(t *testing.T) {
		count := map[string]int{}
		nonASCII, tripled := 0, 0
		for _, u := range users {
			count[u.Name]++
			if utf8.RuneCountInString(u.Name) != len(u.Name) {
				nonASCII++
			}
		}
		for name, c := range count {
			if name != "" && c >= 3 {
				tripled++
			}
		}
		for _, name := range []string{"Zoë Müller", "José Álvarez", "Łukasz Wróbel", "Søren Ødegård", "Nguyễn Văn An",
			"李伟", "Ayşe Yılmaz", "Chloé Dubois", "Ólafur Jónsson", "Михаил Иванов"} {
			if count[name] == 0 {
				t.Errorf("featured name %q missing", name)
			}
		}
		if nonASCII < n/2 || tripled < 1 {
			t.Errorf("%d non-ASCII names, %d names used three times or more", nonASCII, tripled)
		}
	})
	t.Run("timestamps", func(t *testing.T) {
		seconds, millis, absent := 0, 0, 0
		for _, u := range users {
			if u.CreatedAt < from || u.LastChanged < u.CreatedAt || u.LastChanged >= to {
				t.Errorf("%s: createdAt %d lastChanged %d", u.ID, u.CreatedAt, u.LastChanged)
			}
			switch {
			case u.LastActive == nil:
				absent++
			case *u.LastActive > 1e11:
				millis++
			default:
				seconds++
			}
		}
		if seconds == 0 || millis == 0 || absent == 0 || absent > n/4 {
			t.Errorf("lastActive: %d seconds, %d milliseconds, %d absent", seconds, millis, absent)
		}
	})
	t.Run("creator chains", func(t *testing.T) {
		if users[0].CreatedBy != users[0].ID {
			t.Errorf("first user created by %q", users[0].CreatedBy)
		}
		dangling := 0
		for k, u := range users {
			for _, ref := range []string{u.CreatedBy, u.LastChangedBy} {
				if !idPattern.MatchString(ref) {
					t.Errorf("%s refers to %q", u.ID, ref)
				}
				if _, ok := byID[ref]; !ok {
					dangling++
				}
			}
			if c, ok := byID[u.CreatedBy]; ok && k > 0 && c.CreatedAt > u.CreatedAt {
				t.Errorf("%s created before its creator %s", u.ID, c.ID)
			}
		}
		if dangling == 0 {
			t.Error("no creator or changer refers to a deleted user")
		}
	})
}
