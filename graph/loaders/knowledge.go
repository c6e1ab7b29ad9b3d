package loaders

import (
	"log/slog"
	"sync"
)

// fact is what is known of one upstream behaviour.
type fact int8

const (
	unknown fact = iota
	yes
	no
)

// knowledge is what the facade has learnt of how its Cognigy answers
// lookups. It is shared by every request of one handler, since it describes
// the deployment, not a caller, and it only ever goes from unknown to known:
// each fact is proven by an answer, and logged once at info when learnt.
type knowledge struct {
	log *slog.Logger

	mu sync.Mutex
	// filterMatchesID: does GET /v2.0/users?filter=<_id> find that user?
	// Cognigy documents filter as "the name or id of the user"; its id
	// field is the login e-mail, so some deployments do not.
	filterMatchesID fact
	// readUser: is GET /v2.0/users/{id} served? It is not in the contract.
	readUser fact
	// used holds the ways of looking users up that were logged as in use.
	used map[way]bool
}

// way is a way of looking a batch of users up.
type way string

const (
	wayFilter   way = "filter=<_id>, one call per user"
	wayReadUser way = "GET /v2.0/users/{id}, one call per user and one more (filter=<e-mail>) for lastActive when a query selects it"
	wayScan     way = "binary search of the list sorted by _id, reads shared by a request's users"
)

// using logs, once per way, that lookups are made that way, and why.
func (k *knowledge) using(w way, route Route) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.used[w] {
		return
	}
	if k.used == nil {
		k.used = map[way]bool{}
	}
	k.used[w] = true
	k.log.Info("user lookups: in use: "+string(w), "route", string(route),
		"filterMatchesID", k.filterMatchesID.String(), "readUser", k.readUser.String())
}

// state returns what is known now.
func (k *knowledge) state() (filterMatchesID, readUser fact) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.filterMatchesID, k.readUser
}

// learnFilter records whether filter=<_id> finds a user.
func (k *knowledge) learnFilter(matches bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.filterMatchesID != unknown {
		return
	}
	if matches {
		k.filterMatchesID = yes
		k.log.Info("user lookups: Cognigy's filter matches _id, so a user is looked up with GET /v2.0/users?filter=<_id> (1 call, lastActive included)")
		return
	}
	k.filterMatchesID = no
	k.log.Info("user lookups: Cognigy's filter does not match _id, so a user is looked up by GET /v2.0/users/{id} or in the list sorted by _id, whichever costs fewer calls",
		"readUser", k.readUser.String())
}

// learnReadUser records whether GET /v2.0/users/{id} is served.
func (k *knowledge) learnReadUser(served bool, why string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.readUser != unknown {
		return
	}
	if served {
		k.readUser = yes
		k.log.Info("user lookups: GET /v2.0/users/{id} is served; it has no lastActive, which a second call (filter=<e-mail>) adds when a query selects it",
			"filterMatchesID", k.filterMatchesID.String())
		return
	}
	k.readUser = no
	k.log.Info("user lookups: GET /v2.0/users/{id} is not served, so users the filter cannot find by _id are looked up in the list sorted by _id",
		"answer", why, "filterMatchesID", k.filterMatchesID.String())
}

func (f fact) String() string {
	switch f {
	case yes:
		return "yes"
	case no:
		return "no"
	}
	return "unknown"
}
