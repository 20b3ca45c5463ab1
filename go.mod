module github.com/mptcp-autopm/mptcp-autopm

go 1.26.0

require golang.org/x/sys v0.50.0
