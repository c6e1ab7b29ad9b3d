package restclienttest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// NewID returns a deterministic 24-hex ObjectId-like id for an integer. Like
// an ObjectId it starts with a timestamp that grows with i, so ids of small
// non-negative i sort in i order; the rest is i times an odd constant, mixed
// with a fixed pattern, which keeps ids of distinct integers distinct.
func NewID(i int) string {
	ts := uint32(1_560_000_000 + int64(i)*7919)
	return fmt.Sprintf("%08x%016x", ts, uint64(i)*0x9e3779b97f4a7c15^0xa1b2c3d4e5f60718)
}

// culture is a pool of names written the way one language writes them, each
// entry "display/ascii" so e-mails can be folded without a Unicode table.
type culture struct {
	familyFirst bool   // family name before given name, e.g. Vietnamese
	sep         string // between the two parts; Chinese uses none
	given       []string
	family      []string
}

// cultures returns the name pools; their first entries make up the featured
// names that head every dataset, so demos and tests always meet them. It is a
// function so that no caller can change shared tables.
func cultures() []culture {
	return []culture{
		{false, " ", []string{"Zoë/zoe", "Jürgen/juergen", "Lena/lena", "Jörg/joerg", "Max/max"},
			[]string{"Müller/mueller", "Schäfer/schaefer", "Weiß/weiss", "Becker/becker", "Groß/gross"}},
		{false, " ", []string{"José/jose", "María/maria", "Lucía/lucia", "Íñigo/inigo", "Carmen/carmen"},
			[]string{"Álvarez/alvarez", "García/garcia", "Núñez/nunez", "Peña/pena", "Ortiz/ortiz"}},
		{false, " ", []string{"Łukasz/lukasz", "Paweł/pawel", "Tomasz/tomasz", "Piotr/piotr", "Wojciech/wojciech"},
			[]string{"Wróbel/wrobel", "Kowalski/kowalski", "Wiśniewski/wisniewski", "Zając/zajac", "Nowak/nowak"}},
		{false, " ", []string{"Søren/soren", "Åsa/asa", "Guðrún/gudrun", "Björn/bjorn", "Freja/freja"},
			[]string{"Ødegård/odegard", "Lindqvist/lindqvist", "Hansen/hansen", "Æbelø/aebelo", "Sørensen/sorensen"}},
		{true, " ", []string{"Văn An/van.an", "Thị Hoa/thi.hoa", "Minh Đức/minh.duc", "Thu Trang/thu.trang"},
			[]string{"Nguyễn/nguyen", "Trần/tran", "Lê/le", "Phạm/pham"}},
		{true, "", []string{"伟/wei", "娜/na", "静/jing", "强/qiang", "敏/min"},
			[]string{"李/li", "王/wang", "张/zhang", "刘/liu", "陈/chen"}},
		{false, " ", []string{"Ayşe/ayse", "Mehmet/mehmet", "Çağla/cagla", "Gökhan/gokhan", "İbrahim/ibrahim"},
			[]string{"Yılmaz/yilmaz", "Öztürk/ozturk", "Şahin/sahin", "Kaya/kaya", "Çelik/celik"}},
		{false, " ", []string{"Chloé/chloe", "François/francois", "Hélène/helene", "Théo/theo", "Zoé/zoe"},
			[]string{"Dubois/dubois", "Lefèvre/lefevre", "Moreau/moreau", "Bénard/benard", "Girard/girard"}},
		{false, " ", []string{"Ólafur/olafur", "Þórir/thorir", "Gunnar/gunnar", "Einar/einar"},
			[]string{"Jónsson/jonsson", "Guðmundsson/gudmundsson", "Einarsson/einarsson", "Ólafsson/olafsson"}},
		{false, " ", []string{"Михаил/mikhail", "Андрей/andrey", "Сергей/sergey", "Олег/oleg", "Дмитрий/dmitry"},
			[]string{"Иванов/ivanov", "Смирнов/smirnov", "Кузнецов/kuznetsov", "Попов/popov", "Соколов/sokolov"}},
		{false, " ", []string{"John/john", "Emma/emma", "Olivia/olivia", "Liam/liam", "Noah/noah"},
			[]string{"Smith/smith", "Johnson/johnson", "O'Brien/obrien", "Taylor/taylor", "Brown/brown"}},
	}
}

// name builds a display name and its ASCII e-mail stem.
func (c culture) name(given, family int) (display, ascii string) {
	g, ga, _ := strings.Cut(c.given[given], "/")
	f, fa, _ := strings.Cut(c.family[family], "/")
	if c.familyFirst {
		return f + c.sep + g, fa + "." + ga
	}
	return g + c.sep + f, ga + "." + fa
}

// DemoUsers returns n realistic users, deterministic for a seed: many
// non-ASCII names, several users sharing exactly the same name, unique
// ASCII-folded e-mails, timestamps between 2019 and 2026, lastActive in
// seconds, in milliseconds or absent, and creator chains in which some
// creators and changers no longer exist.
func DemoUsers(n int, seed uint64) []User {
	r := rand.New(rand.NewPCG(seed, 0x5eed_c0de))
	var (
		from  = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		until = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		end   = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC).Unix()
	)
	// Creation times grow with the index, so "created by an earlier user"
	// also means earlier in time.
	created := make([]int64, n)
	for i := range created {
		created[i] = from + r.Int64N(until-from)
	}
	slices.Sort(created)

	pools := cultures()
	type naming struct{ display, ascii string }
	names := make([]naming, 0, n)
	taken := map[string]bool{}
	users := make([]User, 0, n)
	for k := range n {
		var nm naming
		switch {
		case k < len(pools):
			nm.display, nm.ascii = pools[k].name(0, 0)
		case k < len(pools)+2:
			nm = names[0] // guarantee duplicates: three users named like the first
		case r.IntN(10) == 0:
			nm = names[r.IntN(len(names))]
		default:
			c := pools[r.IntN(len(pools))]
			nm.display, nm.ascii = c.name(r.IntN(len(c.given)), r.IntN(len(c.family)))
		}
		names = append(names, nm)
		email := nm.ascii + "@example.com"
		for i := 2; taken[email]; i++ {
			email = fmt.Sprintf("%s%d@example.com", nm.ascii, i)
		}
		taken[email] = true

		u := User{ID: NewID(k), Email: email, Name: nm.display, CreatedAt: created[k]}
		if k > len(pools)+2 && r.IntN(50) == 0 {
			u.Name = "" // a few accounts never got a display name
		}
		u.LastChanged = u.CreatedAt
		if r.IntN(5) > 0 {
			u.LastChanged += r.Int64N(end - u.CreatedAt)
		}
		if r.IntN(8) > 0 {
			seen := float64(u.LastChanged + r.Int64N(end-u.LastChanged+1))
			if r.IntN(2) == 0 {
				seen = seen*1000 + float64(r.IntN(1000)) // JavaScript's Date.now()
			}
			u.LastActive = &seen
		}
		u.CreatedBy = author(r, k, u.ID)
		if u.LastChanged == u.CreatedAt {
			u.LastChangedBy = u.CreatedBy
		} else {
			u.LastChangedBy = author(r, k, u.ID)
		}
		users = append(users, u)
	}
	return users
}

// author picks who created or changed user k: itself for the first user,
// usually one of the first few (administrators) or another earlier user,
// and sometimes a user that has since been deleted.
func author(r *rand.Rand, k int, self string) string {
	switch {
	case k == 0:
		return self
	case r.IntN(12) == 0:
		return NewID(-1 - r.IntN(5)) // negative indexes are never in a dataset
	case r.IntN(2) == 0:
		return NewID(r.IntN(min(k, 5)))
	}
	return NewID(r.IntN(k))
}
