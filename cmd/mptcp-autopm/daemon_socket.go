package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mptcp-autopm/mptcp-autopm/engine"
)

// The control socket speaks HTTP over a unix socket: GET /status answers
// the engine's status as JSON, POST /reload reloads the rules and answers
// a reloadReply. Only root can reach it: the socket is mode 0600.

// reloadReply is the answer to POST /reload.
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

func newControlServer(d *daemon) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.eng.Status())
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, _ *http.Request) {
		src, err := d.reload()
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity,
				reloadReply{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, reloadReply{Rules: src})
	})

	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// controlClient talks to the daemon listening on socket.
type controlClient struct {
	socket string
	http   *http.Client
}

func newControlClient(socket string) *controlClient {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}

	return &controlClient{socket: socket,
		http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request and returns the body and the HTTP status.
func (c *controlClient) do(method, path string) ([]byte, int, error) {
	req, err := http.NewRequest(method, "http://mptcp-autopm"+path, nil)
	if err != nil {
		return nil, 0, err
	}

	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, c.askError(err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the daemon's answer: %w", err)
	}

	return body, resp.StatusCode, nil
}

// status fetches the daemon's status, and its JSON text.
func (c *controlClient) status() (engine.Status, []byte, error) {
	body, code, err := c.do(http.MethodGet, "/status")
	if err != nil {
		return engine.Status{}, nil, err
	}
	if code != http.StatusOK {
		return engine.Status{}, nil, fmt.Errorf("daemon answered %d: %s",
			code, body)
	}

	var st engine.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return engine.Status{}, nil, fmt.Errorf("decoding status: %w", err)
	}

	return st, body, nil
}

// reload asks the daemon to reload its rules.
func (c *controlClient) reload() (reloadReply, error) {
	body, code, err := c.do(http.MethodPost, "/reload")
	if err != nil {
		return reloadReply{}, err
	}

	var r reloadReply
	if err := json.Unmarshal(body, &r); err != nil {
		return reloadReply{}, fmt.Errorf("decoding reload answer (%d): %w",
			code, err)
	}
	if code != http.StatusOK && r.Error == "" {
		r.Error = fmt.Sprintf("daemon answered %d", code)
	}

	return r, nil
}

// askError says why asking the daemon failed, without the HTTP request
// that carried the question: the URL names no real host.
func (c *controlClient) askError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}

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
