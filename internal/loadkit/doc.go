// Package loadkit holds what the load and benchmark commands share: building
// the facade and running it as a process of its own, reading a process's
// memory from /proc, counting the upstream fake's calls, and driving
// concurrent HTTP clients for a fixed time with latency percentiles.
//
// Everything here talks to loopback addresses only: the clients it builds
// refuse to connect anywhere else.
package loadkit
