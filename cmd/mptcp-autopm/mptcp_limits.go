package main

// limits runs `limits set|show`.
func (s *session) limits(args []string) error {
	req, err := parseLimits(s.scanner(args))
	if err != nil {
		return err
	}

	c, _, err := s.connect()
	if err != nil {
		return err
	}
	defer c.Close()

	if req.Set {
		err := c.SetLimitsPartial(req.Subflows, req.AddAddrAccepted)
		if err != nil {
			return refusal(err)
		}

		return nil
	}

	l, err := c.Limits()
	if err != nil {
		return refusal(err)
	}

	return s.write(formatLimits(l, s.opts))
}
