package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
)

// The control socket is a unix socket that only root can reach (mode
// 0600). A client sends one line, "status" or "reload", and reads one JSON
// controlReply until the daemon closes the connection. It is not HTTP on
// purpose: net/http and the TLS stack it brings would add megabytes to the
// daemon's resident memory for two requests.

// controlReply is the daemon's answer on the control socket.
type controlReply struct {
	Status *engine.Status `json:"status,omitempty"`
	Rules  string         `json:"rules,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// reloadReply is the outcome of a reload.
type reloadReply struct {
	Rules string `json:"rules,omitempty"`
	Error string `json:"error,omitempty"`
}

// listenControl listens on the unix socket at path with mode 0600. A
// socket file left by a daemon that died is replaced; one that a running
// daemon answers on is an error.
func listenControl(path string) (net.Listener, error) {
	if err := socketDir(path); err != nil {
		return nil, err
	}

	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another daemon is listening", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale control socket: %w", err)
	}

	// The umask closes the window between bind and chmod.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listening on control socket: %w", err)
	}

	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restricting control socket: %w", err)
	}

	return ln, nil
}

// socketDir makes sure the directory of the socket at path exists. That
// of the default socket is created, as systemd's RuntimeDirectory= would;
// that of a path given with --socket must exist already, so that a typo
// creates no directories at an arbitrary place.
func socketDir(path string) error {
	dir := filepath.Dir(path)
	if path == defaultSocket {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating control socket directory: %w", err)
		}

		return nil
	}

	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket %s: directory %s does not exist "+
			"(create it, or choose another --socket): %w", path, dir, err)
	}
	if err != nil {
		return fmt.Errorf("control socket directory: %w", err)
	}

	if !fi.IsDir() {
		return fmt.Errorf("control socket %s: %s is not a directory",
			path, dir)
	}

	return nil
}

// controlServer answers requests on the control socket, one per
// connection, each handled in full before the next is read.
type controlServer struct {
	d    *daemon
	mu   sync.Mutex
	ln   net.Listener
	done bool
}

func newControlServer(d *daemon) *controlServer { return &controlServer{d: d} }

// Serve answers connections on ln until Close.
func (s *controlServer) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()

	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		s.answer(c)
	}
}

// Close stops Serve.
func (s *controlServer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	if s.ln == nil {
		return nil
	}

	return s.ln.Close()
}

// answer reads one request line and writes its reply as JSON. A client
// that says nothing for controlTimeout is dropped, so one stuck client
// cannot block the others for long.
func (s *controlServer) answer(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(controlTimeout))

	line, err := bufio.NewReader(io.LimitReader(c, 128)).ReadString('\n')
	if err != nil {
		return
	}

	var r controlReply
	switch strings.TrimSpace(line) {
	case "status":
		st := s.d.eng.Status()
		r.Status = &st
	case "reload":
		src, err := s.d.reload()
		if err != nil {
			r.Error = err.Error()
		}
		r.Rules = src
	default:
		r.Error = fmt.Sprintf("unknown request %q", strings.TrimSpace(line))
	}

	enc := json.NewEncoder(c)
	enc.SetIndent("", "  ")
	_ = enc.Encode(r)
}

// controlTimeout bounds one exchange on the control socket.
const controlTimeout = 30 * time.Second

// controlClient talks to the daemon listening on socket.
type controlClient struct {
	socket string
}

func newControlClient(socket string) *controlClient {
	return &controlClient{socket: socket}
}

// ask sends request and decodes the reply; it also returns the reply's
// JSON text.
func (c *controlClient) ask(request string) (controlReply, []byte, error) {
	conn, err := net.DialTimeout("unix", c.socket, controlTimeout)
	if err != nil {
		return controlReply{}, nil, c.askError(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(controlTimeout))

	if _, err := io.WriteString(conn, request+"\n"); err != nil {
		return controlReply{}, nil, c.askError(err)
	}

	body, err := io.ReadAll(conn)
	if err != nil {
		return controlReply{}, nil, fmt.Errorf("reading the daemon's answer: %w", err)
	}

	var r controlReply
	if err := json.Unmarshal(body, &r); err != nil {
		return controlReply{}, nil, fmt.Errorf("decoding the daemon's answer: %w", err)
	}

	return r, body, nil
}

// status fetches the daemon's status, and its JSON text.
func (c *controlClient) status() (engine.Status, []byte, error) {
	r, _, err := c.ask("status")
	if err != nil {
		return engine.Status{}, nil, err
	}
	if r.Status == nil {
		return engine.Status{}, nil, fmt.Errorf("daemon answered no status: %s", r.Error)
	}

	body, err := json.MarshalIndent(r.Status, "", "  ")
	if err != nil {
		return engine.Status{}, nil, fmt.Errorf("encoding status: %w", err)
	}

	return *r.Status, append(body, '\n'), nil
}

// reload asks the daemon to reload its rules.
func (c *controlClient) reload() (reloadReply, error) {
	r, _, err := c.ask("reload")
	if err != nil {
		return reloadReply{}, err
	}

	return reloadReply{Rules: r.Rules, Error: r.Error}, nil
}

// askError says why asking the daemon failed, without the HTTP request
// that carried the question: the URL names no real host.
func (c *controlClient) askError(err error) error {
	// No socket file, or one a dead daemon left behind.
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return &noDaemonError{socket: c.socket, err: err}
	}

	return fmt.Errorf("asking the daemon on %s: %w", c.socket, err)
}

// noDaemonError is the error of a command that found no daemon listening
// on its control socket. Its text is one line for people; the dial error
// stays reachable with errors.Is and errors.As.
type noDaemonError struct {
	socket string
	err    error
}

func (e *noDaemonError) Error() string {
	return fmt.Sprintf("no daemon is listening on %s "+
		"(is \"mptcp-autopm run\" running? use --socket for another)",
		e.socket)
}

func (e *noDaemonError) Unwrap() error { return e.err }
