// Package restclienttest is an in-memory fake of Cognigy.AI's user directory
// REST endpoints, GET /v2.0/users (the contract's indexUsers_2_0) and
// GET /v2.0/users/{id}. It is a real HTTP server on a loopback port, so the
// REST client is exercised over real connections, and it backs both the
// project's tests and the product's demo mode. For that second reason it must
// not import net/http/httptest, which registers a command-line flag.
//
// The fake follows the contract and adds deterministic answers where the
// contract is silent:
//
//   - filter is a case-insensitive substring match on name or id (the login
//     e-mail), or an exact match on _id; an empty filter matches everyone.
//     A real Cognigy may not match _id: WithFilterMatches takes that on,
//     WithoutReadUser a deployment without GET /v2.0/users/{id}, and
//     LookupCaseOptions names the combinations the facade must handle.
//   - sort rules apply in the order given, then _id ascending breaks ties when
//     _id is not among them; without sort the order is _id:asc. Strings
//     compare in Go byte order, and lastActive compares as a raw number (units
//     mixed) with a missing value lowest.
//   - paging is offset based (skip/limit); nextCursor and previousCursor are
//     opaque 24-character tokens that never equal an _id, and next/previous
//     must come with the same filter and sort, never with skip.
//   - problem bodies follow RFC 7807 and carry code as a JSON number for 400,
//     404, 405 and 409 but as a numeric string otherwise, because the real
//     service does both and clients must accept both.
//   - a forbidden credential gets 403 with no body, as the real service may.
//
// Faults (see Fault) simulate what a network and an overloaded upstream do:
// error statuses, hangs, resets, truncated, malformed and huge bodies.
package restclienttest
