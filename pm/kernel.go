package pm

import "net/netip"

// Kernel is the part of the path manager that reconciling needs. *Client
// implements it on a real kernel and pmtest.Kernel in memory.
//
// AddEndpoint returns the endpoint as stored, with the id the kernel chose.
// DeleteEndpoint removes by id; addr only matters for id 0 (see
// ip-mptcp(8), "delete id 0 ADDRESS"). SetFlags finds the endpoint by id, or
// by address and port when the id is 0, and assigns its backup and fullmesh
// bits together, as the kernel does.
type Kernel interface {
	Endpoints() ([]Endpoint, error)
	AddEndpoint(e Endpoint) (Endpoint, error)
	DeleteEndpoint(id uint8, addr netip.Addr) error
	SetFlags(e Endpoint) error
	Flush() error
	Limits() (Limits, error)
	SetLimits(l Limits) error
}
