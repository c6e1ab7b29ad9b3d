// Package inprocess holds Go benchmarks of the facade's GraphQL handler,
// wired as the usersgraph server wires it (REST client with the same
// resilience options, metrics observer, httpapi.NewHandler), served in process
// over the upstream fake, for CPU and allocation profiles:
//
//	go test -run=NONE -bench . -benchmem -cpuprofile cpu.out ./cmd/usersgraph-bench/inprocess/
//	go tool pprof -top cpu.out
//
// Requests are handed to the handler directly (no client socket); each
// upstream call is one loopback round trip to the fake, which runs in the
// same process and so shows in the profile under restclienttest.
package inprocess
