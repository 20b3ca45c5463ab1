package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mptcp-autopm/mptcp-autopm/pm"
)

// testTable is the table of the iproute2 6.1 samples below: what
// `ip mptcp endpoint show` printed for it in a test namespace where v1 had
// ifindex 10.
var testTable = []pm.Endpoint{
	{ID: 5, Addr: addr("10.9.1.1"), Flags: pm.FlagSubflow | pm.FlagBackup, Ifindex: 10},
	{ID: 6, Addr: addr("10.9.1.1"), Port: 20000, Flags: pm.FlagSignal | pm.FlagBackup},
	{ID: 20, Addr: addr("2001:db8::1"), Flags: pm.FlagSubflow | pm.FlagFullmesh},
	{ID: 21, Addr: addr("10.9.9.9")},
}

func testIfname(i int32) string {
	return map[int32]string{10: "v1"}[i]
}

func TestFormatEndpoints(t *testing.T) {
	tests := []struct {
		name string
		eps  []pm.Endpoint
		opts options
		want string
	}{
		{
			name: "text as ip 6.1 prints it",
			eps:  testTable,
			want: "10.9.1.1 id 5 subflow backup dev v1 \n" +
				"10.9.1.1 port 20000 id 6 signal backup \n" +
				"2001:db8::1 id 20 subflow fullmesh \n" +
				"10.9.9.9 id 21 \n",
		},
		{
			name: "json as ip -j prints it",
			eps:  testTable,
			opts: options{json: true},
			want: `[{"address":"10.9.1.1","id":5,"subflow":true,"backup":true,"dev":"v1"},` +
				`{"address":"10.9.1.1","port":20000,"id":6,"signal":true,"backup":true},` +
				`{"address":"2001:db8::1","id":20,"subflow":true,"fullmesh":true},` +
				`{"address":"10.9.9.9","id":21}]` + "\n",
		},
		{
			name: "pretty json as ip -j -p prints it",
			eps:  testTable[:2],
			opts: options{json: true, pretty: true},
			want: `[ {
        "address": "10.9.1.1",
        "id": 5,
        "subflow": true,
        "backup": true,
        "dev": "v1"
    },{
        "address": "10.9.1.1",
        "port": 20000,
        "id": 6,
        "signal": true,
        "backup": true
    } ]
`,
		},
		{name: "empty text", want: ""},
		{name: "empty json", opts: options{json: true}, want: "[]\n"},
		{name: "empty pretty json", opts: options{json: true, pretty: true}, want: "[ ]\n"},
		{
			name: "implicit and laminar by name, unknown bits raw, vanished dev",
			eps: []pm.Endpoint{
				{ID: 1, Addr: addr("10.31.2.1"), Flags: pm.FlagImplicit},
				{ID: 2, Addr: addr("10.31.2.2"), Flags: pm.FlagSubflow | pm.FlagLaminar},
				{ID: 3, Addr: addr("10.31.2.3"), Flags: pm.FlagSignal | 0x40},
				{ID: 4, Addr: addr("10.77.0.1"), Flags: pm.FlagSubflow, Ifindex: 3},
			},
			want: "10.31.2.1 id 1 implicit \n" +
				"10.31.2.2 id 2 subflow laminar \n" +
				"10.31.2.3 id 3 signal rawflags 40 \n" +
				"10.77.0.1 id 4 subflow dev if3 \n",
		},
		{
			name: "rawflags and vanished dev in json",
			eps: []pm.Endpoint{
				{ID: 3, Addr: addr("10.31.2.3"), Flags: pm.FlagImplicit | 0x40, Ifindex: 3},
			},
			opts: options{json: true},
			want: `[{"address":"10.31.2.3","id":3,"implicit":true,"rawflags":"40","dev":"if3"}]` + "\n",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatEndpoints(tt.eps, testIfname, tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected output (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatLimits(t *testing.T) {
	l := pm.Limits{AddAddrAccepted: 1, Subflows: 2}
	tests := []struct {
		name string
		opts options
		want string
	}{
		{name: "text", want: "add_addr_accepted 1 subflows 2 \n"},
		{name: "json", opts: options{json: true},
			want: `{"add_addr_accepted":1,"subflows":2}` + "\n"},
		{name: "pretty", opts: options{json: true, pretty: true},
			want: "{\n    \"add_addr_accepted\": 1,\n    \"subflows\": 2\n}\n"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, formatLimits(l, tt.opts)); diff != "" {
				t.Errorf("unexpected output (-want +got):\n%s", diff)
			}
		})
	}
}

// event builds an event with the given attributes marked present.
func event(ev pm.Event, attrs ...pm.EventAttr) pm.Event {
	for _, a := range attrs {
		ev.Present = ev.Present.With(a)
	}

	return ev
}

func TestFormatEvent(t *testing.T) {
	conn := []pm.EventAttr{pm.AttrToken, pm.AttrFamily, pm.AttrSaddr4,
		pm.AttrDaddr4, pm.AttrSport, pm.AttrDport, pm.AttrLocID, pm.AttrRemID}
	sub := append(conn[:len(conn):len(conn)], pm.AttrBackup)
	at := time.Date(2026, 12, 4, 9, 33, 38, 918902000, time.Local)

	tests := []struct {
		name string
		ev   pm.Event
		opts options
		want string
	}{
		{
			name: "created, server side",
			ev: event(pm.Event{Type: pm.EventCreated, Token: 0x9fef039a,
				Saddr: addr("10.31.1.2"), Daddr: addr("10.31.1.1"),
				Sport: 8080, Dport: 40834, Flags: 2, ServerSide: true},
				append(conn, pm.AttrFlags, pm.AttrServerSide)...),
			want: "[       CREATED] token=9fef039a remid=0 locid=0 saddr4=10.31.1.2 daddr4=10.31.1.1 sport=8080 dport=40834 flags=2\n",
		},
		{
			name: "announced has no family",
			ev: event(pm.Event{Type: pm.EventAnnounced, Token: 0xd93e1a33,
				RemoteID: 1, Daddr: addr("10.31.2.2"), Dport: 8080},
				pm.AttrToken, pm.AttrRemID, pm.AttrDaddr4, pm.AttrDport),
			want: "[     ANNOUNCED] token=d93e1a33 remid=1 daddr4=10.31.2.2 dport=8080\n",
		},
		{
			name: "subflow established on a device",
			ev: event(pm.Event{Type: pm.EventSubEstablished, Token: 0xd93e1a33,
				LocalID: 1, Saddr: addr("10.31.2.1"), Daddr: addr("10.31.1.2"),
				Sport: 58549, Dport: 8080, Ifindex: 3},
				append(sub, pm.AttrIfindex)...),
			want: "[SF_ESTABLISHED] token=d93e1a33 remid=0 locid=1 saddr4=10.31.2.1 daddr4=10.31.1.2 sport=58549 dport=8080 backup=0 ifindex=3\n",
		},
		{
			name: "subflow closed after a reset, ipv6",
			ev: event(pm.Event{Type: pm.EventSubClosed, Token: 1, RemoteID: 2,
				LocalID: 3, Saddr: addr("2001:db8::1"), Daddr: addr("2001:db8::2"),
				Sport: 1, Dport: 2, Backup: true, Error: 104, ResetReason: 1,
				ResetFlags: 0x10},
				pm.AttrToken, pm.AttrRemID, pm.AttrLocID, pm.AttrSaddr6,
				pm.AttrDaddr6, pm.AttrSport, pm.AttrDport, pm.AttrBackup,
				pm.AttrError, pm.AttrResetReason, pm.AttrResetFlags),
			want: "[     SF_CLOSED] token=00000001 remid=2 locid=3 saddr6=2001:db8::1 daddr6=2001:db8::2 sport=1 dport=2 backup=1 error=104 reset_reason=1 reset_flags=0x10\n",
		},
		{
			name: "priority",
			ev: event(pm.Event{Type: pm.EventSubPriority, Token: 0x9fef039a,
				RemoteID: 1, LocalID: 1, Saddr: addr("10.31.2.2"),
				Daddr: addr("10.31.2.1"), Sport: 8080, Dport: 51617, Backup: true},
				sub...),
			want: "[       SF_PRIO] token=9fef039a remid=1 locid=1 saddr4=10.31.2.2 daddr4=10.31.2.1 sport=8080 dport=51617 backup=1\n",
		},
		{
			name: "closed",
			ev:   event(pm.Event{Type: pm.EventClosed, Token: 0xc5188f8}, pm.AttrToken),
			want: "[        CLOSED] token=0c5188f8\n",
		},
		{
			name: "listener by name, without token",
			ev: event(pm.Event{Type: pm.EventListenerCreated,
				Saddr: addr("0.0.0.0"), Sport: 8080},
				pm.AttrFamily, pm.AttrSport, pm.AttrSaddr4),
			want: "[LISTENER_CREATED] saddr4=0.0.0.0 sport=8080\n",
		},
		{
			name: "unknown type",
			ev:   event(pm.Event{Type: 14, Token: 1}, pm.AttrToken),
			want: "[UNKNOWN 14]\n",
		},
		{
			name: "timestamp line",
			ev:   event(pm.Event{Type: pm.EventClosed, Token: 1}, pm.AttrToken),
			opts: options{timestamp: true},
			want: "Timestamp: Fri Dec  4 09:33:38 2026 918902 usec\n" +
				"[        CLOSED] token=00000001\n",
		},
		{
			name: "short timestamp",
			ev:   event(pm.Event{Type: pm.EventClosed, Token: 1}, pm.AttrToken),
			opts: options{timestamp: true, tshort: true},
			want: "[2026-12-04T09:33:38.918902] [        CLOSED] token=00000001\n",
		},
		{
			name: "json with timestamp",
			ev: event(pm.Event{Type: pm.EventSubEstablished, Token: 0xd93e1a33,
				LocalID: 1, Saddr: addr("10.31.2.1"), Daddr: addr("10.31.1.2"),
				Sport: 58549, Dport: 8080, Ifindex: 10},
				append(sub, pm.AttrIfindex)...),
			opts: options{json: true, timestamp: true},
			want: `{"timestamp":"Fri Dec  4 09:33:38 2026 918902 usec",` +
				`"event":"SF_ESTABLISHED","token":"0xd93e1a33","remid":0,"locid":1,` +
				`"saddr4":"10.31.2.1","daddr4":"10.31.1.2","sport":58549,"dport":8080,` +
				`"backup":0,"ifindex":10,"dev":"v1"}` + "\n",
		},
		{
			name: "json flags split into names",
			ev: event(pm.Event{Type: pm.EventEstablished, Token: 0x10,
				Flags: 0x7, ServerSide: true}, pm.AttrToken, pm.AttrFlags),
			opts: options{json: true},
			want: `{"event":"ESTABLISHED","token":"0x10","server_side":true,` +
				`"deny_join_id0":true,"flags":"0x4"}` + "\n",
		},
		{
			name: "json listener",
			ev: event(pm.Event{Type: pm.EventListenerClosed,
				Saddr: addr("10.0.0.1"), Sport: 443},
				pm.AttrFamily, pm.AttrSport, pm.AttrSaddr4),
			opts: options{json: true},
			want: `{"event":"LISTENER_CLOSED","saddr4":"10.0.0.1","sport":443}` + "\n",
		},
		{
			name: "json unknown",
			ev:   pm.Event{Type: 30},
			opts: options{json: true},
			want: `{"event":"UNKNOWN 30"}` + "\n",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatEvent(tt.ev, at, tt.opts, testIfname)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("unexpected output (-want +got):\n%s", diff)
			}
		})
	}
}
