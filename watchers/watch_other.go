//go:build !linux

package watchers

import (
	"context"
	"errors"
)

// Watch needs rtnetlink, so it fails on other systems.
func Watch(ctx context.Context, opts Options) (<-chan Snapshot, error) {
	return nil, errors.New("watching links: rtnetlink needs linux")
}
