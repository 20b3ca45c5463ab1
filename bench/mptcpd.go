package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// mptcpdPackages are the Debian packages that make up a working mptcpd:
// the daemon, the addr_adv plugin (split into mptcpd-plugins), its library
// and ELL. They are unpacked, never installed: Debian's mptcpd package
// enables a system service that would manage the host's own endpoints.
var mptcpdPackages = []string{"mptcpd", "mptcpd-plugins", "libmptcpd3", "libell0"}

// mptcpdFlags is how the bench runs mptcpd. mptcpd has one global flag
// set, so every address gets a plain "subflow" endpoint.
var mptcpdFlags = []string{
	"--addr-flags=subflow",
	"--notify-flags=existing,skip_link_local,skip_loopback",
	"--load-plugins=addr_adv",
	"--log=stderr",
}

// An mptcpdBin is an unpacked mptcpd.
type mptcpdBin struct {
	root    string // what dpkg -x made
	version string
}

func (m mptcpdBin) exe() string { return filepath.Join(m.root, "usr/libexec/mptcpd") }

func (m mptcpdBin) libDir() string {
	return filepath.Join(m.root, "usr/lib/x86_64-linux-gnu")
}

func (m mptcpdBin) pluginDir() string { return filepath.Join(m.libDir(), "mptcpd") }

// args is the command line, after `ip netns exec NS`, that runs mptcpd.
func (m mptcpdBin) args() []string {
	return append([]string{
		"LD_LIBRARY_PATH=" + m.libDir(), m.exe(),
		"--plugin-dir=" + m.pluginDir(),
	}, mptcpdFlags...)
}

// fetchMptcpd unpacks mptcpd into dir/mptcpd unless it is there already.
// It downloads the packages with `apt-get download` into a temporary
// directory, running `apt-get update` once if the download fails for lack
// of package lists.
func fetchMptcpd(dir string) (mptcpdBin, error) {
	m := mptcpdBin{root: filepath.Join(dir, "mptcpd")}
	if _, err := os.Stat(filepath.Join(m.pluginDir(), "addr_adv.so")); err != nil {
		if err := unpackMptcpd(m.root); err != nil {
			return m, fmt.Errorf("fetching mptcpd: %w", err)
		}
	}

	out, err := run("env", "LD_LIBRARY_PATH="+m.libDir(), m.exe(), "--version")
	if err != nil {
		return m, fmt.Errorf("running unpacked mptcpd: %w", err)
	}
	m.version = strings.TrimSpace(out)

	return m, nil
}

func unpackMptcpd(root string) error {
	tmp, err := os.MkdirTemp("", "mptcpd-debs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// apt's download sandbox user must be able to write here.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}

	if err := aptDownload(tmp); err != nil {
		return err
	}

	debs, err := filepath.Glob(filepath.Join(tmp, "*.deb"))
	if err != nil || len(debs) < len(mptcpdPackages) {
		return fmt.Errorf("apt-get download left %d packages, want %d",
			len(debs), len(mptcpdPackages))
	}

	staging := root + ".tmp"
	os.RemoveAll(staging)
	for _, deb := range debs {
		if _, err := run("dpkg", "-x", deb, staging); err != nil {
			return err
		}
	}

	os.RemoveAll(root)

	return os.Rename(staging, root)
}

func aptDownload(dir string) error {
	download := func() error {
		args := append([]string{"download"}, mptcpdPackages...)
		cmd := execIn(dir, "apt-get", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get download: %w: %s", err,
				strings.TrimSpace(string(out)))
		}

		return nil
	}

	err := download()
	if err == nil {
		return nil
	}

	if _, uerr := run("apt-get", "update"); uerr != nil {
		return errors.Join(err, uerr)
	}

	return download()
}

func execIn(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir

	return cmd
}
