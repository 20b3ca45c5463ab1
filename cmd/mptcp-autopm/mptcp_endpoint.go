package main

import (
	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// endpoint runs `endpoint add|delete|change|show|flush`.
func (s *session) endpoint(args []string) error {
	// A first pass collects the options, wherever they stand, and finds
	// syntax errors; -n may follow a `dev NAME` that must be looked up in
	// that namespace, so device names are resolved in a second pass.
	saved := s.opts
	anyDev := func(string) int32 { return 1 }
	if _, err := parseEndpoint(s.scanner(args), anyDev); err != nil {
		return err
	}

	path, err := s.netnsPath()
	if err != nil {
		return err
	}

	s.opts = saved
	ifindex := func(name string) int32 { return s.ifindex(path, name) }
	req, err := parseEndpoint(s.scanner(args), ifindex)
	if err != nil {
		return err
	}

	c, _, err := s.connect()
	if err != nil {
		return err
	}
	defer c.Close()

	return s.runEndpoint(c, path, req)
}

// runEndpoint sends one parsed endpoint request.
func (s *session) runEndpoint(c pmClient, path string,
	req endpointRequest) error {
	e := req.Endpoint
	var err error
	switch req.Verb {
	case verbShow:
		return s.showEndpoints(c, path, req)
	case verbAdd:
		_, err = c.AddEndpoint(e)
	case verbDelete:
		err = c.DeleteEndpoint(e.ID, e.Addr)
	case verbChange:
		err = c.SetFlags(e)
	case verbFlush:
		err = c.Flush()
	}
	if err != nil {
		return refusal(err)
	}

	return nil
}

// showEndpoints prints the table, or the endpoint with the requested id.
// Without an id ip asks the kernel all the same, which answers "address
// not found"; so does this.
func (s *session) showEndpoints(c pmClient, path string,
	req endpointRequest) error {
	var (
		eps []pm.Endpoint
		err error
	)
	if req.Dump {
		eps, err = c.Endpoints()
	} else {
		var e pm.Endpoint
		e, err = c.Endpoint(req.Endpoint.ID)
		eps = []pm.Endpoint{e}
	}
	if err != nil {
		return refusal(err)
	}

	ifname := func(i int32) string { return s.ifname(path, i) }

	return s.write(formatEndpoints(eps, ifname, s.opts))
}
